<?php
namespace App\Providers;

use Illuminate\Auth\GenericUser;
use Illuminate\Http\Request;
use Illuminate\Support\Facades\Auth;
use Illuminate\Support\Facades\Route;
use Illuminate\Support\ServiceProvider;

class AppServiceProvider extends ServiceProvider
{
    public function boot(): void
    {
        // Stand-in for Sanctum's guard (not packaged by Debian), under the same name:
        // `Authorization: Bearer demo-session-<id>` is user <id>, as in examples/node.
        Auth::viaRequest('sanctum', function (Request $request) {
            $token = (string) $request->bearerToken();
            if (! str_starts_with($token, 'demo-session-')) {
                return null;
            }
            $id = substr($token, strlen('demo-session-'));
            return new GenericUser(['id' => $id, 'name' => ucfirst($id)]);
        });
        // What a new app's RouteServiceProvider does for routes/api.php.
        Route::prefix('api')->middleware('api')->group(base_path('routes/api.php'));
    }
}
