<?php

/**
 * Uninstall: removes what the plugin stored in WordPress. It does not touch the host: the
 * host's settings, mapping table, orders, ledger and admin token stay in its data directory,
 * and the WooCommerce REST API key and webhooks made by "Connect the store" stay in WooCommerce
 * (revoke the key in WooCommerce → Settings → Advanced → REST API, delete the webhooks under
 * Webhooks) — so removing the plugin never stops orders from reaching X3 by itself.
 *
 * @package MLConnector
 */

if (!defined('WP_UNINSTALL_PLUGIN')) {
    exit;
}

$mlConnectorOptions = ['ml_connector_host_url', 'ml_connector_admin_token', 'ml_connector_delivery_url'];
foreach ($mlConnectorOptions as $mlConnectorOption) {
    delete_option($mlConnectorOption);
    delete_site_option($mlConnectorOption);
}
delete_transient('ml_connector_status_cache');

// The per-user one-shot messages (transients ml_connector_flash_<user id>).
global $wpdb;
$mlConnectorLike = $wpdb->esc_like('_transient_ml_connector_flash_') . '%';
$mlConnectorTimeout = $wpdb->esc_like('_transient_timeout_ml_connector_flash_') . '%';
$wpdb->query(
    $wpdb->prepare(
        "DELETE FROM {$wpdb->options} WHERE option_name LIKE %s OR option_name LIKE %s",
        $mlConnectorLike,
        $mlConnectorTimeout
    )
);
wp_cache_flush();
