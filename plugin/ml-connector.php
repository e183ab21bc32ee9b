<?php

/**
 * Plugin Name:       ml-connector
 * Description:       Connects WooCommerce to Sage X3 through the ml-connector host: settings, product mapping, order status and repairs from the WordPress admin.
 * Version:           0.1.0
 * Requires at least: 6.1
 * Tested up to:      6.8
 * Requires PHP:      7.4
 * WC requires at least: 10.0
 * WC tested up to:   10.0
 * License:           MIT
 * License URI:       https://opensource.org/licenses/MIT
 * Text Domain:       ml-connector
 *
 * @package MLConnector
 */

if (!defined('ABSPATH')) {
    exit;
}

define('ML_CONNECTOR_VERSION', '0.1.0');
define('ML_CONNECTOR_FILE', __FILE__);
define('ML_CONNECTOR_DIR', __DIR__);

require_once __DIR__ . '/includes/HostClient.php';
require_once __DIR__ . '/includes/Plugin.php';
require_once __DIR__ . '/includes/Settings.php';
require_once __DIR__ . '/includes/DeliveryFilters.php';
require_once __DIR__ . '/includes/Connect.php';
require_once __DIR__ . '/includes/Mapping.php';
require_once __DIR__ . '/includes/Status.php';

\MLConnector\Plugin::boot();
