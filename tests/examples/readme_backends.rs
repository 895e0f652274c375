//! The README's Rails and Laravel controllers, each built at test time into the smallest app
//! of its framework (tests/readme_backends/, on Debian's packages), so the examples' tests
//! run the README's text as written: the controller, and the route and config its comment
//! names.

use crate::common::repo_path;
use std::path::Path;
use std::process::Command;

/// The code block in `lang` ("ruby", "php") of the README's chat-token section.
fn readme_block(lang: &str) -> String {
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let section = &readme[readme
        .find("## Your backend: the chat-token endpoint")
        .expect("the README has its chat-token section")..];
    let fence = format!("```{lang}\n");
    let start = section
        .find(&fence)
        .unwrap_or_else(|| panic!("the chat-token section has a {lang} block"))
        + fence.len();
    section[start..start + section[start..].find("```").unwrap()].to_owned()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Fails the test, with how to install it, unless `program` runs `args` successfully.
fn assert_installed(program: &str, args: &[&str], hint: &str) {
    let out = Command::new(program).args(args).output();
    assert!(
        out.as_ref().is_ok_and(|o| o.status.success()),
        "{hint} (Debian's packages; `bash .ci/examples-deps` installs them when run as root): {}",
        out.map_or_else(
            |e| format!("{program}: {e}"),
            |o| String::from_utf8_lossy(&o.stderr).into_owned()
        )
    );
}

/// The README's Rails controller in a Rails app at `dir`: the command that serves it.
pub(crate) fn rails_app(dir: &Path) -> Command {
    assert_installed(
        "ruby",
        &["-e", "require 'rails'; require 'devise'; require 'puma'"],
        "ruby with Rails, Devise and Puma is missing: run `sudo apt-get install -y ruby-rails ruby-devise puma`",
    );
    let block = readme_block("ruby");
    // `# app/controllers/chat_tokens_controller.rb; config/routes.rb: post "/api/…", to: "…"`
    let (file, route) = block
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# "))
        .and_then(|l| l.split_once("; config/routes.rb: "))
        .expect("the ruby block's first line names its file and its route");
    copy_dir(&repo_path("tests/readme_backends/rails"), dir);
    write(dir, file, &block);
    write(
        dir,
        "config/routes.rb",
        &format!(
            "Rails.application.routes.draw do\n  devise_for :users, skip: :all\n  {route}\nend\n"
        ),
    );
    let mut cmd = Command::new("ruby");
    cmd.arg("server.rb").current_dir(dir);
    cmd
}

/// The README's Laravel controller in a Laravel app at `dir`: the command that serves it on
/// `port` (PHP's built-in server).
pub(crate) fn laravel_app(dir: &Path, port: u16) -> Command {
    assert_installed(
        "php",
        &[
            "-r",
            "require '/usr/share/php/Illuminate/autoload.php'; \
             require '/usr/share/php/GuzzleHttp/autoload.php'; \
             exit(function_exists('curl_init') ? 0 : 1);",
        ],
        "php with Laravel, Guzzle and curl is missing: run `sudo apt-get install -y php-cli \
         php-curl php-laravel-framework php-guzzlehttp-guzzle`",
    );
    let block = readme_block("php");
    // After `<?php`: `// <controller file>; routes/api.php (…):`, `//   <route>`, then
    // `// config/services.php: 'chatsdk' => [` continued on the next comment line.
    let comments: Vec<&str> = block
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("//"))
        .map(|l| l.trim_start_matches('/').trim())
        .collect();
    let [first, route, services @ ..] = comments.as_slice() else {
        panic!("the php block's comment names its file, its route and its config: {block}");
    };
    let (file, _) = first.split_once(';').expect("`<file>; routes/api.php`");
    let services = services
        .join(" ")
        .strip_prefix("config/services.php: ")
        .expect("the php block's comment gives config/services.php")
        .trim_end_matches(',')
        .to_owned();
    copy_dir(&repo_path("tests/readme_backends/laravel"), dir);
    write(dir, file, &block);
    write(
        dir,
        "routes/api.php",
        &format!(
            "<?php\nuse App\\Http\\Controllers\\ChatTokenController;\n\
             use Illuminate\\Support\\Facades\\Route;\n\n{route}\n"
        ),
    );
    write(
        dir,
        "config/services.php",
        &format!("<?php\nreturn [\n    {services},\n];\n"),
    );
    // Where Laravel caches its manifests and compiled views (git keeps no empty folders).
    for rel in ["bootstrap/cache", "storage/framework/views", "storage/logs"] {
        std::fs::create_dir_all(dir.join(rel)).unwrap();
    }
    let mut cmd = Command::new("php");
    cmd.args([
        "-S",
        &format!("127.0.0.1:{port}"),
        "-t",
        "public",
        "public/index.php",
    ])
    .current_dir(dir);
    cmd
}
