<?php
return [
    'defaults' => ['guard' => 'sanctum'],
    'guards' => ['sanctum' => ['driver' => 'sanctum']],
    'providers' => [],
];
