<?php

// BENCHMARKS.md §6's baseline on the real WooCommerce: how long WooCommerce 10.0.2 itself takes
// for the requests ml-connector sends to price and stock a catalogue — a read of 100 SKUs and a
// `products/batch` of 100 updates (name, short description, price), then the same for stock.
// Dispatched inside WordPress (`rest_do_request`, as the admin), so the figure is WooCommerce's
// own work without HTTP. Creates its products first; run it on a throwaway site only:
//   KEEP=1 tests/wp/run woocommerce &   # then, with /tmp/mlc-wp.env sourced:
//   php tests/wp/bench-batch.php "$WP_DIR" [batches=10]
[$script, $dir] = $argv;
$batches = (int) ($argv[2] ?? 10);
define('WP_USE_THEMES', false);
require $dir . '/wp-load.php';
wp_set_current_user(1);

$ids = [];
$skus = [];
$prefix = 'B' . substr((string) time(), -5);
for ($i = 1; $i <= 100 * $batches; $i++) {
    $p = new WC_Product_Simple();
    $sku = sprintf('%s%05d', $prefix, $i);
    $p->set_name("Product $sku");
    $p->set_sku($sku);
    $p->set_regular_price('1.00');
    $p->set_manage_stock(true);
    $p->set_stock_quantity(0);
    $p->set_status('publish');
    $ids[] = $p->save();
    $skus[] = $sku;
}

function dispatch(string $method, string $route, array $params): array
{
    $r = new WP_REST_Request($method, $route);
    if ('GET' === $method) {
        $r->set_query_params($params);
    } else {
        $r->set_header('content-type', 'application/json');
        $r->set_body(wp_json_encode($params));
    }
    $res = rest_do_request($r);
    if ($res->is_error()) {
        fwrite(STDERR, wp_json_encode($res->get_data()) . "\n");
        exit(1);
    }
    return $res->get_data();
}

$times = ['read' => 0.0, 'items' => 0.0, 'stock' => 0.0];
foreach (['items', 'stock'] as $pass) {
    for ($b = 0; $b < $batches; $b++) {
        $chunk = array_slice($ids, $b * 100, 100);
        $t = microtime(true);
        $found = dispatch('GET', '/wc/v3/products', [
            'sku' => implode(',', array_slice($skus, $b * 100, 100)),
            'per_page' => 100,
            'context' => 'edit',
        ]);
        $times['read'] += microtime(true) - $t;
        if (count($found) !== 100) {
            fwrite(STDERR, 'read ' . count($found) . " products, not 100\n");
            exit(1);
        }
        $update = [];
        foreach ($chunk as $k => $id) {
            $i = $b * 100 + $k + 1;
            $update[] = 'items' === $pass
                ? ['id' => $id, 'name' => "Article $i", 'short_description' => 'Catalogue',
                    'regular_price' => sprintf('%d.%02d', 5 + $i % 95, $i % 100)]
                : ['id' => $id, 'stock_quantity' => 10 + $i % 50 - $i % 7];
        }
        $t = microtime(true);
        $out = dispatch('POST', '/wc/v3/products/batch', ['update' => $update]);
        $times[$pass] += microtime(true) - $t;
        foreach ($out['update'] as $u) {
            if (isset($u['error'])) {
                fwrite(STDERR, wp_json_encode($u) . "\n");
                exit(1);
            }
        }
    }
}
$check = wc_get_product($ids[0]);
if ('6.01' !== $check->get_regular_price() || 10 !== $check->get_stock_quantity()) {
    fwrite(STDERR, "the batches did not change the product\n");
    exit(1);
}
$n = 100 * $batches;
printf(
    "real WooCommerce %s: %d products; reads of 100 SKUs %.1f ms each; products/batch of 100 updates: items %.1f ms, stock %.1f ms each; for 10,000 products: %.1f s\n",
    WC()->version,
    $n,
    1000 * $times['read'] / (2 * $batches),
    1000 * $times['items'] / $batches,
    1000 * $times['stock'] / $batches,
    ($times['read'] + $times['items'] + $times['stock']) * 10000 / $n
);
