<?php
namespace App\Http\Controllers;

class Controller extends \Illuminate\Routing\Controller
{
}
