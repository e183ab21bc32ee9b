<?php

// Sets up the throwaway WooCommerce 10 shop of tests/wp/run (after install.php activated
// WooCommerce and the plugin): WooCommerce's tables, a French shop in Europe/Paris (not UTC: the
// host must read WooCommerce's dates right), and a small catalogue — two simple products and a
// variable one with two variations, each with a SKU and managed stock. Prints the ids as JSON.
//   php tests/wp/install-woocommerce.php <wordpress dir> <site url>
[$script, $dir, $url] = $argv;
$parts = parse_url($url);
$_SERVER['HTTP_HOST'] = $parts['host'] . (isset($parts['port']) ? ':' . $parts['port'] : '');
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['SERVER_NAME'] = $parts['host'];
require $dir . '/wp-load.php';

if (!class_exists('WooCommerce')) {
    fwrite(STDERR, "WooCommerce is not active\n");
    exit(1);
}
// What the activation would have done on a first admin page.
WC_Install::install();

// Pretty permalinks, as shops have them: the host reaches the REST API at /wp-json/wc/v3/.
update_option('permalink_structure', '/%postname%/');
flush_rewrite_rules(false);
update_option('timezone_string', 'Europe/Paris');
update_option('gmt_offset', '');
update_option('woocommerce_currency', 'EUR');
update_option('woocommerce_default_country', 'FR');
update_option('woocommerce_store_address', '1 rue de la Paix');
update_option('woocommerce_store_city', 'Paris');
update_option('woocommerce_store_postcode', '75002');
update_option('woocommerce_calc_taxes', 'no');
update_option('woocommerce_manage_stock', 'yes');
update_option('woocommerce_allow_tracking', 'no');
update_option('woocommerce_show_marketplace_suggestions', 'no');
update_option('woocommerce_onboarding_profile', ['skipped' => true]);
update_option('woocommerce_task_list_hidden', 'yes');
update_option('woocommerce_coming_soon', 'no');

function mlc_simple(string $name, string $sku, string $price): int
{
    $p = new WC_Product_Simple();
    $p->set_name($name);
    $p->set_sku($sku);
    $p->set_regular_price($price);
    $p->set_manage_stock(true);
    $p->set_stock_quantity(100);
    $p->set_status('publish');
    return $p->save();
}

$ids = [
    'mug' => mlc_simple('Mug', 'WOO-MUG', '12.00'),
    'cap' => mlc_simple('Cap', 'WOO-CAP', '15.00'),
];

$hoodie = new WC_Product_Variable();
$hoodie->set_name('Hoodie');
$hoodie->set_sku('WOO-HOODIE');
$colour = new WC_Product_Attribute();
$colour->set_name('Colour');
$colour->set_options(['Red', 'Blue']);
$colour->set_visible(true);
$colour->set_variation(true);
$hoodie->set_attributes([$colour]);
$hoodie->set_status('publish');
$ids['hoodie'] = $hoodie->save();
foreach (['red' => 'Red', 'blue' => 'Blue'] as $key => $value) {
    $v = new WC_Product_Variation();
    $v->set_parent_id($ids['hoodie']);
    $v->set_attributes(['colour' => $value]);
    $v->set_sku('WOO-HOODIE-' . strtoupper($key));
    $v->set_regular_price('39.00');
    $v->set_manage_stock(true);
    $v->set_stock_quantity(100);
    $v->set_status('publish');
    $ids[$key] = $v->save();
}
WC_Product_Variable::sync($ids['hoodie']);

// High-Performance Order Storage, as a new WooCommerce 10 shop has it (it is off here only because
// WooCommerce was activated from the command line, not through its onboarding).
wc_get_container()->get(\Automattic\WooCommerce\Internal\DataStores\Orders\DataSynchronizer::class)->create_database_tables();
update_option('woocommerce_custom_orders_table_enabled', 'yes');
update_option('woocommerce_custom_orders_table_data_sync_enabled', 'no');

$hpos = wc_get_container()
    ->get(\Automattic\WooCommerce\Internal\DataStores\Orders\CustomOrdersTableController::class)
    ->custom_orders_table_usage_is_enabled();
$ids['hpos'] = $hpos;
$ids['woocommerce'] = WC()->version;
$ids['wordpress'] = get_bloginfo('version');
$ids['timezone'] = wp_timezone_string();
echo wp_json_encode($ids), "\n";
