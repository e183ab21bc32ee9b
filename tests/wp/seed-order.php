<?php

// Delivers one order to the host as WooCommerce would (signed webhook), so the plugin's tests
// have an order to show: on a host whose document settings are incomplete (tests/wp/run starts it
// so) it needs attention; once they are complete, its products have no mapping row: held.
//   php tests/wp/seed-order.php <host url> <webhook secret> <order json file> <token file>
[$script, $host, $secret, $file, $tokenFile] = $argv;
$body = file_get_contents($file);
$order = json_decode($body, true);
$headers = [
    'Content-Type: application/json',
    'X-WC-Webhook-Source: http://localhost/',
    'X-WC-Webhook-Topic: order.created',
    'X-WC-Webhook-Resource: order',
    'X-WC-Webhook-Event: created',
    'X-WC-Webhook-ID: 1',
    'X-WC-Webhook-Delivery-ID: ' . bin2hex(random_bytes(16)),
    'X-WC-Webhook-Signature: ' . base64_encode(hash_hmac('sha256', $body, $secret, true)),
];
$context = stream_context_create(['http' => [
    'method' => 'POST',
    'header' => implode("\r\n", $headers),
    'content' => $body,
    'ignore_errors' => true,
    'timeout' => 30,
]]);
$answer = file_get_contents(rtrim($host, '/') . '/webhooks/woocommerce', false, $context);
$status = isset($http_response_header[0]) ? (int) explode(' ', $http_response_header[0])[1] : 0;
if (200 !== $status) {
    fwrite(STDERR, "the host refused the delivery: $status $answer\n");
    exit(1);
}
// Wait until the host has looked at it.
// The status API needs a token (it shows shoppers' data).
$read = stream_context_create(['http' => [
    'header' => 'Authorization: Bearer ' . trim((string) file_get_contents($tokenFile)),
    'ignore_errors' => true,
]]);
for ($i = 0; $i < 300; $i++) {
    $s = json_decode((string) @file_get_contents(rtrim($host, '/') . '/api/status', false, $read), true);
    foreach (['attention', 'held'] as $state) {
        if (!empty($s['orders'][$state])) {
            echo "order {$order['id']} delivered: $state\n";
            exit(0);
        }
    }
    usleep(100000);
}
fwrite(STDERR, "order {$order['id']} was neither held nor in attention\n");
exit(1);
