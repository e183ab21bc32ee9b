<?php

namespace MLConnector\Tests;

use MLConnector\Connect;

/**
 * The REST API key "Connect the store" writes, checked against WooCommerce's real table — as far as
 * this machine allows: WooCommerce itself is not installable here (not in Debian, no WordPress.org),
 * so WooCommerce is NOT loaded. What is real: the table, created with WooCommerce's own DDL
 * (woocommerce/woocommerce, plugins/woocommerce/includes/class-wc-install.php, get_schema(),
 * `{prefix}woocommerce_api_keys`), and the two functions the plugin calls, defined here exactly as
 * WooCommerce defines them (plugins/woocommerce/includes/wc-core-functions.php: wc_rand_hash()
 * = bin2hex(openssl_random_pseudo_bytes(20)), wc_api_hash() = hash_hmac('sha256', $key, 'wc-api')).
 * The row is then looked up the way WooCommerce's REST authentication does
 * (class-wc-rest-authentication.php, get_user_data_by_consumer_key(): WHERE consumer_key =
 * wc_api_hash($consumer_key), then hash_equals() on consumer_secret).
 * Not tested here: Connect::process() with WooCommerce active (it needs the WooCommerce class).
 */
class WooCommerceKeyTest extends TestCase
{
    public static function setUpBeforeClass(): void
    {
        parent::setUpBeforeClass();
        if (!function_exists('wc_rand_hash')) {
            // phpcs:disable
            eval('function wc_rand_hash() { return bin2hex(openssl_random_pseudo_bytes(20)); }');
            eval('function wc_api_hash($data) { return hash_hmac("sha256", $data, "wc-api"); }');
            // phpcs:enable
        }
        global $wpdb;
        $collate = $wpdb->get_charset_collate();
        $wpdb->query("DROP TABLE IF EXISTS {$wpdb->prefix}woocommerce_api_keys");
        $wpdb->query("CREATE TABLE {$wpdb->prefix}woocommerce_api_keys (
  key_id BIGINT UNSIGNED NOT NULL auto_increment,
  user_id BIGINT UNSIGNED NOT NULL,
  description varchar(200) NULL,
  permissions varchar(10) NOT NULL,
  consumer_key char(64) NOT NULL,
  consumer_secret char(43) NOT NULL,
  nonces longtext NULL,
  truncated_key char(7) NOT NULL,
  last_access datetime NULL default null,
  PRIMARY KEY  (key_id),
  KEY consumer_key (consumer_key),
  KEY consumer_secret (consumer_secret)
) $collate");
    }

    public static function tearDownAfterClass(): void
    {
        global $wpdb;
        $wpdb->query("DROP TABLE IF EXISTS {$wpdb->prefix}woocommerce_api_keys");
    }

    public function testTheKeyIsARowWooCommerceAuthenticates(): void
    {
        global $wpdb;
        $wpdb->suppress_errors(false);
        $key = Connect::createKey(self::$admin);
        $this->assertNotNull($key, $wpdb->last_error);
        $this->assertMatchesRegularExpression('/^ck_[0-9a-f]{40}$/', $key['consumer_key']);
        $this->assertMatchesRegularExpression('/^cs_[0-9a-f]{40}$/', $key['consumer_secret']);

        // WooCommerce's lookup.
        $row = $wpdb->get_row($wpdb->prepare(
            "SELECT key_id, user_id, permissions, consumer_key, consumer_secret, nonces, truncated_key, description
             FROM {$wpdb->prefix}woocommerce_api_keys WHERE consumer_key = %s",
            wc_api_hash(sanitize_text_field($key['consumer_key']))
        ));
        $this->assertNotNull($row, 'found by the hashed consumer key');
        $this->assertSame($key['key_id'], (int) $row->key_id);
        $this->assertTrue(hash_equals($row->consumer_secret, $key['consumer_secret']), 'the secret is stored as WooCommerce compares it');
        $this->assertSame(self::$admin, (int) $row->user_id, 'owned by the chosen administrator');
        $this->assertSame('read_write', $row->permissions);
        $this->assertSame(substr($key['consumer_key'], -7), $row->truncated_key, 'what WooCommerce\'s key list shows');
        $this->assertStringStartsWith('ml-connector - API (', $row->description);
        $this->assertNotSame($key['consumer_key'], $row->consumer_key, 'the consumer key itself is not stored');

        // A second key is another row (a reconnect does not overwrite the first).
        $again = Connect::createKey(self::$admin);
        $this->assertNotSame($key['key_id'], $again['key_id']);
        $this->assertSame(2, (int) $wpdb->get_var("SELECT COUNT(*) FROM {$wpdb->prefix}woocommerce_api_keys"));
    }
}
