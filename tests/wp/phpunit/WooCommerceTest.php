<?php

namespace MLConnector\Tests;

use MLConnector\Connect;
use MLConnector\Mapping;
use MLConnector\Plugin;
use MLConnector\Status;

/**
 * The plugin inside a real WooCommerce 10.0.2 on WordPress 6.8.8 (tests/wp/run woocommerce),
 * after the browser walk-through connected the store: the HPOS declaration and the headers, the
 * menu, the product picker's suggestions from the real catalogue, and connecting again (the keys
 * earlier connections made are revoked, the host reads the shop with the new one).
 */
class WooCommerceTest extends TestCase
{
    public function testWooCommerceIsRealAndTheShopIsNotInUtc(): void
    {
        $this->assertTrue(class_exists('WooCommerce'));
        $this->assertSame('10.0.2', WC()->version);
        $this->assertStringStartsWith('6.8', get_bloginfo('version'));
        $this->assertSame('Europe/Paris', wp_timezone_string(), 'the shop is not on UTC');
    }

    /**
     * Regression (issue 14): no declaration on before_woocommerce_init, so WooCommerce listed
     * the plugin as incompatible with High-Performance Order Storage.
     */
    public function testThePluginIsDeclaredCompatibleWithHposAndItsHeadersAreTrue(): void
    {
        $features = wc_get_container()->get(\Automattic\WooCommerce\Internal\Features\FeaturesController::class);
        $info = $features->get_compatible_plugins_for_feature('custom_order_tables', true);
        $this->assertContains('ml-connector/ml-connector.php', $info['compatible']);
        $this->assertNotContains('ml-connector/ml-connector.php', $info['incompatible']);
        $this->assertNotContains('ml-connector/ml-connector.php', $info['uncertain']);
        $this->assertTrue(
            wc_get_container()->get(\Automattic\WooCommerce\Internal\DataStores\Orders\CustomOrdersTableController::class)->custom_orders_table_usage_is_enabled(),
            'orders are in the HPOS tables'
        );
        // The headers say what was tested, and it is what runs here.
        $headers = get_file_data(ML_CONNECTOR_FILE, [
            'tested' => 'Tested up to',
            'wc_min' => 'WC requires at least',
            'wc_tested' => 'WC tested up to',
            'license' => 'License',
        ]);
        $major = static function (string $v): string {
            return implode('.', array_slice(explode('.', $v), 0, 2));
        };
        $this->assertSame($major(get_bloginfo('version')), $headers['tested']);
        $this->assertSame($major(WC()->version), $headers['wc_tested']);
        $this->assertSame($major(WC()->version), $headers['wc_min']);
        $this->assertSame('MIT', $headers['license'], 'the repository\'s one licence (LICENSE)');
    }

    public function testThePageIsUnderWooCommerce(): void
    {
        $this->assertSame('woocommerce', Plugin::parentSlug());
        $this->assertStringContainsString('admin.php?page=ml-connector', Plugin::pageUrl('mapping'));
    }

    /**
     * Regression (issue 14): wc_get_products() already returns the variations, and their
     * parents' get_children() added each variation and its SKU a second time.
     */
    public function testThePickerListsEachProductVariationAndSkuOnce(): void
    {
        $catalogue = json_decode((string) file_get_contents(getenv('WC_CATALOGUE')), true);
        $suggestions = Mapping::suggestions();
        $keys = array_map(static function ($s) {
            return $s[0] . ':' . $s[1];
        }, $suggestions);
        $this->assertSame(array_values(array_unique($keys)), $keys, 'no suggestion twice');
        foreach (['red', 'blue'] as $v) {
            $this->assertContains('variation:' . $catalogue[$v], $keys);
            $this->assertNotContains('product:' . $catalogue[$v], $keys, 'a variation is not offered as a product');
        }
        foreach (['WOO-MUG', 'WOO-CAP', 'WOO-HOODIE-RED', 'WOO-HOODIE-BLUE'] as $sku) {
            $this->assertContains('sku:' . $sku, $keys);
        }
        $this->assertContains('product:' . $catalogue['mug'], $keys);
        $this->assertContains('product:' . $catalogue['hoodie'], $keys);
        $html = $this->output([Mapping::class, 'renderTable']);
        $this->assertSame(1, substr_count($html, sprintf('<option value="%d" data-type="variation">', $catalogue['red'])), 'the variation once in the list, with its key type');
        $this->assertStringContainsString('variation: Hoodie - Red (WOO-HOODIE-RED)', $html);
    }

    /**
     * Issue 14: the webhook secret could only be set in the host's config file. The Status tab
     * rotates it: a new secret on the host (the old one still accepted), given to WooCommerce's
     * webhooks by registering them again; finishing the rotation leaves only the new one.
     */
    public function testTheStatusTabRotatesTheWebhookSecretInWooCommerceAndFinishesTheRotation(): void
    {
        $secrets = static function (): array {
            // The host changed them over REST, in another process: not what this one cached.
            wp_cache_flush();
            $out = [];
            foreach (\WC_Data_Store::load('webhook')->search_webhooks(['limit' => -1]) as $id) {
                $w = wc_get_webhook($id);
                if ($w && 0 === strpos($w->get_name(), 'ml-connector: ')) {
                    $out[$w->get_topic()] = $w->get_secret();
                }
            }
            return $out;
        };
        $before = $secrets();
        $this->assertCount(4, $before);
        Status::processRotate();
        $flash = $this->flash();
        $this->assertSame('success', $flash['level'], $flash['notice']);
        $this->assertStringContainsString('still accepted', $flash['notice']);
        [, $settings] = $this->host('GET', '/api/admin/settings');
        $this->assertSame(['set' => true], $settings['woocommerce']['webhook-secret-previous']);
        $after = $secrets();
        $this->assertCount(1, array_unique($after), 'every webhook has the one new secret');
        $this->assertNotSame(array_values($before)[0], array_values($after)[0], 'a new secret');
        $this->assertSame(48, strlen(array_values($after)[0]));
        [, $status] = $this->host('GET', '/api/status');
        $this->assertNotNull($status['store']['secret_rotation']);
        $html = $this->output([Status::class, 'renderPage']);
        $this->assertStringContainsString('id="ml-connector-finish-rotation"', $html);
        $this->assertStringNotContainsString(array_values($after)[0], $html, 'the secret is never shown');

        Status::processFinishRotation();
        $this->assertSame('success', $this->flash()['level']);
        [, $settings] = $this->host('GET', '/api/admin/settings');
        $this->assertSame(['set' => false], $settings['woocommerce']['webhook-secret-previous']);
        delete_transient(Status::CACHE);
        $this->assertStringNotContainsString('id="ml-connector-finish-rotation"', $this->output([Status::class, 'renderPage']));
    }

    /**
     * Regression (issue 14): every "Connect the store" made a new REST key and left the earlier
     * ones, so keys piled up. The keys this plugin made before are revoked once the host took the
     * new one; a key made by hand is left alone.
     */
    public function testConnectingAgainRevokesTheKeysEarlierConnectionsMade(): void
    {
        global $wpdb;
        $table = $wpdb->prefix . 'woocommerce_api_keys';
        $hand = Connect::createKey(self::$admin);
        $wpdb->update($table, ['description' => 'Accounting export - API (2026-11-01)'], ['key_id' => $hand['key_id']]);
        $ours = static function () use ($wpdb, $table): array {
            return array_map('intval', $wpdb->get_col($wpdb->prepare("SELECT key_id FROM {$table} WHERE description LIKE %s", $wpdb->esc_like(Connect::KEY_DESCRIPTION) . '%')));
        };
        $before = $ours();
        $this->assertNotEmpty($before, 'the walk-through connected the store');
        // What the notices had cached from before the connection.
        set_transient(Status::CACHE, ['json' => ['alerts' => ['the webhooks could not be read from WooCommerce: Consumer key is invalid']], 'error' => null], Status::CACHE_TTL);

        Connect::process(['user_id' => (string) self::$admin]);
        $flash = $this->flash();
        $this->assertSame('success', $flash['level'], $flash['notice']);
        $this->assertStringContainsString(sprintf('%d older key', count($before)), $flash['notice']);
        $after = $ours();
        $this->assertCount(1, $after, 'one key of ours left');
        $this->assertNotContains($after[0], $before, 'the new one');
        $this->assertNotNull($wpdb->get_var($wpdb->prepare("SELECT key_id FROM {$table} WHERE key_id = %d", $hand['key_id'])), 'a key made by hand is kept');
        $this->assertFalse(get_transient(Status::CACHE), 'no stale notice after connecting');

        // The host uses the remaining key, and WooCommerce takes it.
        [, $settings] = $this->host('GET', '/api/admin/settings');
        $row = $wpdb->get_row($wpdb->prepare("SELECT key_id FROM {$table} WHERE consumer_key = %s", wc_api_hash($settings['woocommerce']['consumer-key'])));
        $this->assertSame($after[0], (int) $row->key_id);
        [$status, $coverage] = $this->host('GET', '/api/admin/mapping/coverage');
        $this->assertSame(200, $status, wp_json_encode($coverage));
        $this->assertSame(4, $coverage['total'], 'the host read the catalogue with the new key');
        $wpdb->delete($table, ['key_id' => $hand['key_id']]);
    }
}
