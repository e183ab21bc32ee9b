<?php

// Loads the real WordPress of tests/wp/run (its wp-config.php, its database, the plugin active)
// as an admin request would, without the login redirect of wp-admin/admin.php.

$wpDir = getenv('WP_DIR');
$wpUrl = getenv('WP_URL');
if (!$wpDir || !$wpUrl || !getenv('HOST_URL') || !getenv('HOST_TOKEN_FILE')) {
    fwrite(STDERR, "run through tests/wp/run (WP_DIR, WP_URL, HOST_URL, HOST_TOKEN_FILE)\n");
    exit(1);
}
$parts = parse_url($wpUrl);
$_SERVER['HTTP_HOST'] = $parts['host'] . (isset($parts['port']) ? ':' . $parts['port'] : '');
$_SERVER['SERVER_NAME'] = $parts['host'];
$_SERVER['REQUEST_URI'] = '/wp-admin/admin-post.php';
$_SERVER['REQUEST_METHOD'] = 'POST';
$_SERVER['SCRIPT_NAME'] = '/wp-admin/admin-post.php';
$_SERVER['PHP_SELF'] = '/wp-admin/admin-post.php';
define('WP_ADMIN', true);
require $wpDir . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/admin.php';
if (!is_plugin_active('ml-connector/ml-connector.php')) {
    fwrite(STDERR, "the plugin is not active\n");
    exit(1);
}
require __DIR__ . '/TestCase.php';
require_once __DIR__ . '/Shop.php';
