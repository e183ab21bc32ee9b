<?php

namespace MLConnector\Tests;

use MLConnector\Connect;
use MLConnector\Settings;

/**
 * End to end with the real WooCommerce 10.0.2 (issue 14): its webhooks, delivered by its Action
 * Scheduler through the plugin's delivery filters, and its REST API (OAuth 1.0a over http, as a
 * shop without TLS in front has it) feed the real host binary, which posts to x3-sim. The shop
 * runs in Europe/Paris, not UTC.
 *
 * The host is stopped; orders are placed (each in a process of its own, as checkouts are) and
 * WooCommerce tries to deliver them: every delivery fails, and WooCommerce disables its webhooks.
 * The host is started again: it finds its webhooks disabled, re-enables them and catches up over
 * REST. Every order is then in X3 exactly once — asserted on x3-sim's records, not on logs.
 *
 * This test starts its own x3-sim and host (it stops and starts the host) and connects the
 * plugin to that host, so it runs last: the shop's webhooks deliver to it afterwards.
 */
class RealWooCommerceE2ETest extends TestCase
{
    /** @var string */
    private $dir;
    /** @var array<string, resource> */
    private $procs = [];
    /** @var string */
    private $x3;
    /** @var string */
    private $hostAddr;

    protected function tearDown(): void
    {
        foreach (array_keys($this->procs) as $name) {
            $this->stop($name);
        }
        parent::tearDown();
    }

    public function testOrdersPlacedWhileTheHostIsDownReachX3OnceAfterWooCommerceDisabledItsWebhooks(): void
    {
        $this->assertSame('Europe/Paris', wp_timezone_string(), 'the shop is not on UTC');
        $this->dir = sys_get_temp_dir() . '/mlc-real-wc-e2e-' . getmypid();
        @mkdir($this->dir . '/host', 0700, true);
        $bin = rtrim((string) getenv('MLC_BIN'), '/');

        // x3-sim with the items the shop's products map to.
        $x3 = json_decode($this->start('x3', [$bin . '/x3-sim', '--port', '0']), true);
        $this->x3 = $x3['base_url'];
        $items = ['MUG', 'HOODIE-RED', 'HOODIE-BLUE', 'CAP', 'CARRIAGE'];
        $seed = ['items' => [], 'stock' => []];
        foreach ($items as $c) {
            $seed['items'][] = ['ITMREF' => $c, 'DES1AXX' => $c, 'TCLCOD' => 'WEB', 'STU' => 'UN', 'SAU' => 'UN'];
            $seed['stock'][] = ['STOFCY' => 'FR011', 'ITMREF' => $c, 'QTYSTU' => 1000];
        }
        $this->assertSame(200, (int) wp_remote_retrieve_response_code(wp_remote_post($this->x3 . '/__sim/seed', ['body' => wp_json_encode($seed), 'headers' => ['Content-Type' => 'application/json']])));

        // The host: X3 and the documents; the shop's key comes from "Connect the store".
        $port = $this->freePort();
        file_put_contents($this->dir . '/host/mapping.csv', "key_type,key,item_code,sales_unit,gl_account,dimensions,site\n"
            . "sku,WOO-MUG,MUG,UN,706200,CCT=WEB;DEP=HOME,\n"
            . "sku,WOO-HOODIE-RED,HOODIE-RED,UN,706100,CCT=WEB;DEP=APPAREL,\n"
            . "shipping,flat_rate,CARRIAGE,UN,708500,,\n");
        file_put_contents($this->dir . '/host/config.toml', implode("\n", [
            "listen = \"127.0.0.1:$port\"",
            'data-dir = "data"',
            '[x3]',
            "base-url = \"{$x3['base_url']}\"",
            "folder = \"{$x3['folder']}\"",
            "user = \"{$x3['user']}\"",
            "password = \"{$x3['password']}\"",
            '[woocommerce]',
            'url = "' . home_url('/') . '"',
            'consumer-key = "ck_not_connected_yet"',
            'consumer-secret = "cs_not_connected_yet"',
            'webhook-secret = "real-woocommerce-e2e-secret"',
            '[orders]',
            'store-id = "real-wc"',
            'sales-site = "FR011"',
            'order-type = "WEB"',
            'invoice-type = "FAC"',
            'customer-category = "WEBCU"',
            'dimension-types = ["CCT", "DEP"]',
            'mapping-file = "mapping.csv"',
            '',
        ]));
        $this->startHost($bin);

        // The plugin, connected to this host; "Connect the store" gives it a key and has it
        // register its webhooks (WooCommerce pings them through the plugin's delivery filters).
        update_option(Settings::OPTION_HOST, 'http://' . $this->hostAddr);
        update_option(Settings::OPTION_TOKEN, trim((string) file_get_contents($this->dir . '/host/data/admin.token')));
        Connect::process(['user_id' => (string) self::$admin]);
        $flash = $this->flash();
        $this->assertSame('success', $flash['level'], $flash['notice']);
        $delivery = 'http://' . $this->hostAddr . '/webhooks/woocommerce';
        $ours = $this->ourWebhooks($delivery);
        $this->assertCount(4, $ours, wp_json_encode(Shop::webhooks()));

        // One order while the host is up: delivered, posted.
        $first = $this->placeOne(0);
        $this->shop('deliver');
        $this->waitForX3([$first]);

        // The host goes down; orders keep coming, and every delivery fails.
        $this->stop('host');
        $placed = [];
        $disabledAt = [];
        for ($i = 1; $i <= 8; $i++) {
            $placed[] = $this->placeOne($i);
            $this->shop('deliver');
            // Each order is one delivery per webhook: $i consecutive failures so far.
            foreach ($this->ourWebhooks($delivery) as $w) {
                if ('disabled' === $w['status'] && !isset($disabledAt[$w['topic']])) {
                    $disabledAt[$w['topic']] = $i;
                }
            }
        }
        $hooks = $this->ourWebhooks($delivery);
        foreach (['order.created', 'order.updated'] as $topic) {
            $this->assertSame('disabled', $hooks[$topic]['status'], "WooCommerce disabled $topic: " . wp_json_encode($hooks));
        }
        fwrite(STDERR, sprintf("\nWooCommerce disabled order.created after %d and order.updated after %d consecutive failures\n", $disabledAt['order.created'] ?? -1, $disabledAt['order.updated'] ?? -1));
        $this->assertSame(7, $disabledAt['order.created'] ?? null, 'disabled at the 7th consecutive failure (woocommerce.md, verified on 10.0)');
        $this->assertSame(7, $disabledAt['order.updated'] ?? null);
        $this->assertSame('active', $hooks['order.deleted']['status'], 'a webhook that had nothing to deliver stays active');
        $this->assertSame(["WC-$first" => 1], $this->x3OrderRefs(), 'nothing more reached X3 while the host was down');

        // The host is back: it finds its webhooks disabled, re-enables them, catches up over REST.
        $this->startHost($bin);
        $this->waitForX3(array_merge([$first], $placed));
        $hooks = $this->ourWebhooks($delivery);
        foreach ($hooks as $topic => $w) {
            $this->assertSame('active', $w['status'], "the host re-enabled $topic");
        }
        // Deliveries work again, and one success resets WooCommerce's failure count.
        $last = $this->placeOne(9);
        $this->shop('deliver');
        $all = array_merge([$first], $placed, [$last]);
        $this->waitForX3($all);
        $this->assertSame(0, $this->ourWebhooks($delivery)['order.created']['failures']);

        // Every order exactly once in X3. (The catch-up reads from five minutes before this host's
        // first start — [catch-up] overlap-secs — so orders the walk-through placed just before
        // may be in this X3 too: once each as well.)
        $refs = $this->x3OrderRefs();
        foreach ($all as $id) {
            $this->assertSame(1, $refs["WC-$id"] ?? 0, "order $id is in X3 once: " . wp_json_encode($refs));
        }
        $this->assertSame([1], array_values(array_unique($refs)), 'no order twice: ' . wp_json_encode($refs));
        $status = $this->hostStatus();
        $this->assertGreaterThanOrEqual(count($all), $status['orders']['posted'] ?? 0, wp_json_encode($status['orders']));
        $this->assertArrayNotHasKey('failed', $status['orders']);
        $this->assertSame([], $status['alerts'], 'the monitor sees its webhooks active');

        // Leave the shop's webhooks and key as they are (the last test); the plugin points at a
        // host that is stopped below.
    }

    // ---- helpers ------------------------------------------------------------------------

    /** Starts a process; its first stdout line. */
    private function start(string $name, array $cmd): string
    {
        $proc = proc_open($cmd, [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['file', $this->dir . "/$name.log", 'a']], $pipes, $this->dir . '/host');
        $this->assertIsResource($proc, "starting $name");
        $line = '';
        $deadline = time() + 120;
        while ('' === $line && time() < $deadline) {
            $line = trim((string) fgets($pipes[1]));
        }
        $this->assertNotSame('', $line, "$name printed nothing: " . @file_get_contents($this->dir . "/$name.log"));
        $this->procs[$name] = $proc;
        return $line;
    }

    private function startHost(string $bin): void
    {
        $ready = json_decode($this->start('host', [$bin . '/ml-connector', 'serve', '--config', $this->dir . '/host/config.toml']), true);
        $this->assertSame('ready', $ready['event'] ?? null);
        $this->hostAddr = $ready['listen'];
    }

    /** SIGTERM, and wait for the process to end. */
    private function stop(string $name): void
    {
        $proc = $this->procs[$name] ?? null;
        unset($this->procs[$name]);
        if (!is_resource($proc)) {
            return;
        }
        proc_terminate($proc, 15);
        $deadline = time() + 60;
        while (proc_get_status($proc)['running'] && time() < $deadline) {
            usleep(100000);
        }
        proc_close($proc);
    }

    private function freePort(): int
    {
        $s = stream_socket_server('tcp://127.0.0.1:0');
        $port = (int) explode(':', stream_socket_get_name($s, false))[1];
        fclose($s);
        return $port;
    }

    /** tests/wp/wc-shop.php in a process of its own, as a request of the shop would be. */
    private function shop(string ...$args): array
    {
        $cmd = array_merge(['php', (string) getenv('WC_SHOP'), (string) getenv('WP_DIR'), (string) getenv('WP_URL')], $args);
        $out = [];
        exec(implode(' ', array_map('escapeshellarg', $cmd)) . ' 2>&1', $out, $rc);
        $this->assertSame(0, $rc, implode("\n", $out));
        return (array) json_decode((string) end($out), true);
    }

    private function placeOne(int $which): int
    {
        return (int) $this->shop('place', '1', 'WOO-MUG,WOO-HOODIE-RED')['orders'][0];
    }

    /** Our webhooks in WooCommerce, by topic. */
    private function ourWebhooks(string $delivery): array
    {
        $out = [];
        foreach ($this->shop('webhooks') as $w) {
            if ($w['delivery_url'] === $delivery) {
                $out[$w['topic']] = $w;
            }
        }
        ksort($out);
        return $out;
    }

    /** CUSORDREF → how many sales orders in x3-sim carry it. */
    private function x3OrderRefs(): array
    {
        $state = json_decode((string) wp_remote_retrieve_body(wp_remote_get($this->x3 . '/__sim/state', ['timeout' => 10])), true);
        $refs = [];
        foreach ((array) ($state['records']['SORDER'] ?? []) as $o) {
            $refs[$o['CUSORDREF']] = ($refs[$o['CUSORDREF']] ?? 0) + 1;
        }
        return $refs;
    }

    /** Waits (up to two minutes) until each order is in X3. */
    private function waitForX3(array $ids): void
    {
        for ($i = 0; $i < 1200; $i++) {
            $refs = $this->x3OrderRefs();
            $missing = array_filter($ids, static function ($id) use ($refs) {
                return !isset($refs["WC-$id"]);
            });
            if (!$missing) {
                return;
            }
            usleep(100000);
        }
        $this->fail('not in X3: ' . implode(', ', $missing) . "\nhost log:\n" . @file_get_contents($this->dir . '/host.log'));
    }

    private function hostStatus(): array
    {
        $r = wp_remote_get('http://' . $this->hostAddr . '/api/status', [
            'headers' => ['Authorization' => 'Bearer ' . trim((string) file_get_contents($this->dir . '/host/data/status.token'))],
            'timeout' => 10,
        ]);
        return (array) json_decode((string) wp_remote_retrieve_body($r), true);
    }
}
