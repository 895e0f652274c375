# The smallest Rails app around the README's ChatTokensController, on Debian's Rails, Devise
# and Puma (no Bundler). tests/examples.rs adds the controller and config/routes.rb from the
# README. Devise is real; only its user store is a stand-in: `Authorization: Bearer
# demo-session-<id>` signs in as <id>, as in examples/node and examples/python.
require "rails"
require "action_controller/railtie"
require "active_model"
require "devise"

class User
  include ActiveModel::Model
  include ActiveModel::Validations::Callbacks
  extend Devise::Models
  attr_accessor :id, :name
  devise
end

Warden::Strategies.add(:demo_session) do
  def valid?
    request.authorization.to_s.start_with?("Bearer demo-session-")
  end

  def store?
    false
  end

  def authenticate!
    id = request.authorization.delete_prefix("Bearer demo-session-")
    success!(User.new(id: id, name: id.capitalize))
  end
end

class ChatApp < Rails::Application
  config.root = __dir__
  config.eager_load = false
  config.logger = Logger.new($stdout)
  config.log_level = :info
  config.secret_key_base = "0" * 64
  config.hosts.clear
  # The test's requests carry a bearer session, not a browser's CSRF token.
  config.action_controller.allow_forgery_protection = false
end

Devise.setup do |config|
  config.warden { |manager| manager.default_strategies(scope: :user).unshift(:demo_session) }
end

ChatApp.initialize!
# Puma, as `rails server` runs it (WEBrick answers 411 to a POST without Content-Length).
require "rack/handler/puma"
Rack::Handler::Puma.run(ChatApp, Host: "127.0.0.1", Port: Integer(ENV.fetch("PORT")))
