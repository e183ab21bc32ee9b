<?php

/**
 * Test site only (tests/wp/run copies it to wp-content/mu-plugins): what makes the throwaway
 * WordPress deterministic. Never part of the plugin.
 *
 * - Action Scheduler runs only when a test runs it (tests/wp/wc-shop.php deliver): its async
 *   request runner, which WordPress would start from any admin page, is off (WP cron is off in
 *   wp-config.php), so a test decides when WooCommerce delivers its webhooks.
 * - No mail is sent.
 * - A test may lower the plugin's capability (option `mlc_test_capability`), as a site owner
 *   would with the `ml_connector_capability` filter.
 */

add_filter('action_scheduler_allow_async_request_runner', '__return_false');
add_filter('woocommerce_allow_marketplace_suggestions', '__return_false');
// No mail leaves the test site (WooCommerce mails the shopper on payment; there is no sendmail).
add_filter('pre_wp_mail', '__return_false');

add_filter('ml_connector_capability', static function ($capability) {
    $lowered = get_option('mlc_test_capability', '');
    return is_string($lowered) && '' !== $lowered ? $lowered : $capability;
});
