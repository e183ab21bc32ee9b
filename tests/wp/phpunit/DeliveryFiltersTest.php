<?php

namespace MLConnector\Tests;

use MLConnector\DeliveryFilters;
use MLConnector\Settings;

/**
 * WordPress refuses loopback addresses and ports other than 80/443/8080 for
 * wp_safe_remote_request() (how WooCommerce delivers webhooks). The plugin allows exactly the
 * host's delivery URL. Checked through WordPress's own wp_http_validate_url() and by really
 * sending, with the site at http://localhost:PORT and the host at http://127.0.0.1:PORT.
 */
class DeliveryFiltersTest extends TestCase
{
    /** @var string */
    private $delivery;

    protected function setUp(): void
    {
        parent::setUp();
        Settings::refreshDeliveryUrl();
        $this->delivery = DeliveryFilters::deliveryUrl();
    }

    public function testDeliveryUrlComesFromTheHost(): void
    {
        // The host announces woocommerce.delivery-url (issue 6); a host without it gets the
        // contract's default, its URL + /webhooks/woocommerce.
        [$status, $settings] = $this->host('GET', '/api/admin/settings');
        $this->assertSame(200, $status);
        $expected = $settings['woocommerce']['delivery-url'] ?? (self::$hostUrl . '/webhooks/woocommerce');
        $this->assertSame($expected, $this->delivery);
        $this->assertSame($expected, get_option(Settings::OPTION_DELIVERY));
    }

    public function testTheSettingsTabKeepsTheDeliveryUrlInStep(): void
    {
        update_option(Settings::OPTION_DELIVERY, 'http://127.0.0.1:1/stale', false);
        $this->assertFalse(wp_http_validate_url($this->delivery), 'a stale delivery URL: the real one is refused');
        $this->output([Settings::class, 'renderPage']);
        $this->assertSame($this->delivery, get_option(Settings::OPTION_DELIVERY));
        $this->assertSame($this->delivery, wp_http_validate_url($this->delivery));
    }

    public function testTheFiltersAreHooked(): void
    {
        $this->assertSame(10, has_filter('http_request_host_is_external', [DeliveryFilters::class, 'hostIsExternal']));
        $this->assertSame(10, has_filter('http_allowed_safe_ports', [DeliveryFilters::class, 'allowedPorts']));
    }

    public function testTheDeliveryUrlIsAllowed(): void
    {
        $this->assertSame($this->delivery, wp_http_validate_url($this->delivery));
        // WooCommerce may add nothing, but a query string does not change the target.
        $this->assertNotFalse(wp_http_validate_url($this->delivery . '?x=1'));
    }

    public function others(): array
    {
        $p = wp_parse_url(getenv('HOST_URL'));
        $port = $p['port'];
        return [
            'another port on the same address' => ["http://127.0.0.1:" . ($port + 1) . '/webhooks/woocommerce'],
            'another path on the host' => ["http://127.0.0.1:$port/status"],
            'the API of the host' => ["http://127.0.0.1:$port/api/admin/settings"],
            'a path that only starts the same' => ["http://127.0.0.1:$port/webhooks/woocommerce-evil"],
            'another loopback address' => ["http://127.0.0.2:$port/webhooks/woocommerce"],
            'a private address' => ["http://10.1.2.3:$port/webhooks/woocommerce"],
            'another private address' => ["http://192.168.1.10/webhooks/woocommerce"],
            'https instead of http' => ["https://127.0.0.1:$port/webhooks/woocommerce"],
            'loopback on port 80' => ['http://127.0.0.1/webhooks/woocommerce'],
        ];
    }

    /** @dataProvider others */
    public function testEverythingElseIsStillRefused(string $url): void
    {
        $this->assertFalse(wp_http_validate_url($url), "$url must stay refused");
        $this->assertFalse(DeliveryFilters::hostIsExternal(false, (string) wp_parse_url($url, PHP_URL_HOST), $url));
        $this->assertSame([80, 443, 8080], DeliveryFilters::allowedPorts([80, 443, 8080], '', $url));
    }

    public function testFiltersKeepWhatOthersDecided(): void
    {
        $this->assertTrue(DeliveryFilters::hostIsExternal(true, 'x', 'http://10.0.0.1/'));
        $this->assertSame('not an array', DeliveryFilters::allowedPorts('not an array', '', $this->delivery));
        $port = (int) wp_parse_url($this->delivery, PHP_URL_PORT);
        $this->assertSame([80, 443, 8080, $port], DeliveryFilters::allowedPorts([80, 443, 8080], '', $this->delivery));
        $this->assertSame([$port], DeliveryFilters::allowedPorts([$port], '', $this->delivery), 'no duplicate');
    }

    public function testNothingIsAllowedWhenThePluginIsNotConfigured(): void
    {
        delete_option(Settings::OPTION_DELIVERY);
        delete_option(Settings::OPTION_HOST);
        try {
            $this->assertSame('', DeliveryFilters::deliveryUrl());
            $this->assertFalse(wp_http_validate_url($this->delivery));
        } finally {
            $this->configureHost();
            Settings::refreshDeliveryUrl();
        }
    }

    public function testAChangedHostUrlMovesTheException(): void
    {
        $p = wp_parse_url(self::$hostUrl);
        $moved = 'http://127.0.0.1:' . ($p['port'] + 7);
        update_option(Settings::OPTION_HOST, $moved);
        try {
            // The host there does not answer: the fallback applies, for the new port only.
            $this->assertSame($moved . '/webhooks/woocommerce', DeliveryFilters::deliveryUrl());
            $this->assertNotFalse(wp_http_validate_url($moved . '/webhooks/woocommerce'));
            $this->assertFalse(wp_http_validate_url($this->delivery));
        } finally {
            $this->configureHost();
            Settings::refreshDeliveryUrl();
        }
    }

    public function testASafeRequestReallyReachesTheHostAndNothingElse(): void
    {
        // What WooCommerce does for a delivery: wp_safe_remote_post(). The host answers (it
        // refuses the unsigned body with its own status), WordPress does not stop the request.
        $r = wp_safe_remote_post($this->delivery, ['body' => '{}', 'headers' => ['Content-Type' => 'application/json'], 'timeout' => 10]);
        $this->assertNotWPError($r);
        $this->assertGreaterThanOrEqual(400, (int) wp_remote_retrieve_response_code($r), 'the host refuses an unsigned delivery');

        // The host's status page, same address and port, other path: WordPress refuses.
        $other = wp_safe_remote_get(self::$hostUrl . '/status', ['timeout' => 10]);
        $this->assertTrue(is_wp_error($other));
        $this->assertSame('http_request_failed', $other->get_error_code());
        $this->assertSame(__('A valid URL was not provided.'), $other->get_error_message(), 'refused by WordPress\'s URL check');
    }
}
