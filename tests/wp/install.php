<?php

// Installs the throwaway WordPress (tests/wp/run) and activates the plugin, the way
// wp-admin/install.php does, from the command line.
//   php tests/wp/install.php <wordpress dir> <site url> <admin password> [plugin file …]
// Plugins named after the password (woocommerce/woocommerce.php) are activated before ours.
[$script, $dir, $url, $password] = $argv;
$others = array_slice($argv, 4);
$parts = parse_url($url);
$_SERVER['HTTP_HOST'] = $parts['host'] . (isset($parts['port']) ? ':' . $parts['port'] : '');
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['SERVER_NAME'] = $parts['host'];
define('WP_INSTALLING', true);
require $dir . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';
if (!is_blog_installed()) {
    $result = wp_install('ml-connector test shop', 'admin', 'admin@example.test', false, '', $password);
    if (empty($result['user_id'])) {
        fwrite(STDERR, "wp_install failed\n");
        exit(1);
    }
}
update_option('siteurl', $url);
update_option('home', $url);
foreach ($others as $other) {
    $activated = activate_plugin($other);
    if (is_wp_error($activated)) {
        fwrite(STDERR, "activating $other failed: " . $activated->get_error_message() . "\n");
        exit(1);
    }
}
$active = activate_plugin('ml-connector/ml-connector.php');
if (is_wp_error($active)) {
    fwrite(STDERR, 'activation failed: ' . $active->get_error_message() . "\n");
    exit(1);
}
echo "installed, plugin active: " . (is_plugin_active('ml-connector/ml-connector.php') ? 'yes' : 'no') . "\n";
