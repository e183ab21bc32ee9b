<?php

// The shop's side of the WooCommerce tests, with WooCommerce's own PHP API, as the shop itself
// would do it (tests/wp/browser-woocommerce.mjs and the PHPUnit tests call it):
//   php tests/wp/wc-shop.php <wordpress dir> <site url> place <n> [sku,sku…]  orders, paid (JSON ids)
//   php tests/wp/wc-shop.php <wordpress dir> <site url> deliver                runs Action Scheduler: the webhooks
//   php tests/wp/wc-shop.php <wordpress dir> <site url> refund <order id>      refunds the first line, restocked
//   php tests/wp/wc-shop.php <wordpress dir> <site url> cancel <order id>      status → cancelled
//   php tests/wp/wc-shop.php <wordpress dir> <site url> webhooks               our webhooks, status and failures
// Each prints one JSON line.
[$script, $dir, $url, $command] = array_slice($argv, 0, 4);
$args = array_slice($argv, 4);
$parts = parse_url($url);
$_SERVER['HTTP_HOST'] = $parts['host'] . (isset($parts['port']) ? ':' . $parts['port'] : '');
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['SERVER_NAME'] = $parts['host'];
require $dir . '/wp-load.php';
require_once __DIR__ . '/phpunit/Shop.php';

switch ($command) {
    case 'place':
        $skus = isset($args[1]) ? explode(',', $args[1]) : ['WOO-MUG', 'WOO-HOODIE-RED'];
        $ids = [];
        for ($i = 0; $i < (int) ($args[0] ?? 1); $i++) {
            $ids[] = \MLConnector\Tests\Shop::placeOrder($skus, $i);
        }
        echo wp_json_encode(['orders' => $ids]), "\n";
        break;
    case 'deliver':
        echo wp_json_encode(\MLConnector\Tests\Shop::deliver()), "\n";
        break;
    case 'refund':
        echo wp_json_encode(['refund' => \MLConnector\Tests\Shop::refundFirstLine((int) $args[0])]), "\n";
        break;
    case 'cancel':
        $order = wc_get_order((int) $args[0]);
        $order->update_status('cancelled', 'Cancelled by the test shop.');
        echo wp_json_encode(['order' => $order->get_id(), 'status' => $order->get_status()]), "\n";
        break;
    case 'webhooks':
        echo wp_json_encode(\MLConnector\Tests\Shop::webhooks()), "\n";
        break;
    default:
        fwrite(STDERR, "unknown command $command\n");
        exit(2);
}
