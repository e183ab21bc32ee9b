<?php

namespace MLConnector\Tests;

use MLConnector\Settings;

/**
 * The Settings API registration and the sanitizers, in the real WordPress.
 */
class SettingsTest extends TestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        global $wp_settings_errors;
        $wp_settings_errors = [];
    }

    public function testRegisteredOnAdminInitWithSanitizers(): void
    {
        $this->assertSame(10, has_action('admin_init', [Settings::class, 'register']));
        Settings::register();
        $registered = get_registered_settings();
        foreach ([Settings::OPTION_HOST => 'sanitizeHostUrl', Settings::OPTION_TOKEN => 'sanitizeToken'] as $option => $method) {
            $this->assertArrayHasKey($option, $registered);
            $this->assertSame(Settings::GROUP, $registered[$option]['group']);
            $this->assertSame([Settings::class, $method], $registered[$option]['sanitize_callback']);
            $this->assertFalse($registered[$option]['show_in_rest'], 'never exposed through the REST API');
        }
        // options.php accepts exactly these two options for the group.
        $allowed = apply_filters('allowed_options', []);
        $this->assertSame([Settings::OPTION_HOST, Settings::OPTION_TOKEN], array_values($allowed[Settings::GROUP]));
        // Not the delivery URL: only the plugin writes it.
        $this->assertNotContains(Settings::OPTION_DELIVERY, $allowed[Settings::GROUP]);
    }

    public function validHostUrls(): array
    {
        return [
            ['http://127.0.0.1:8787', 'http://127.0.0.1:8787'],
            ['http://127.0.0.1:8787/', 'http://127.0.0.1:8787'],
            ['  https://connector.example.com  ', 'https://connector.example.com'],
            ['https://proxy.example.com/ml-connector/', 'https://proxy.example.com/ml-connector'],
            ['', ''],
        ];
    }

    /** @dataProvider validHostUrls */
    public function testHostUrlAccepted(string $in, string $out): void
    {
        $this->assertSame($out, Settings::sanitizeHostUrl($in));
        $this->assertSame([], get_settings_errors(Settings::OPTION_HOST));
    }

    public function invalidHostUrls(): array
    {
        return [
            ['ftp://127.0.0.1:8787'],
            ['javascript:alert(1)'],
            ['127.0.0.1:8787'],
            ['http://user:secret@127.0.0.1:8787'],
            ['http://127.0.0.1:8787/?token=x'],
            ['http://127.0.0.1:8787/#x'],
            ["http://127.0.0.1:8787/\nX"],
            ['not a url'],
        ];
    }

    /** @dataProvider invalidHostUrls */
    public function testHostUrlRefusedKeepsTheOldValue(string $in): void
    {
        $this->assertSame(self::$hostUrl, Settings::sanitizeHostUrl($in), 'the stored URL is kept');
        $errors = get_settings_errors(Settings::OPTION_HOST);
        $this->assertCount(1, $errors);
        $this->assertSame('error', $errors[0]['type']);
    }

    public function testUpdateOptionGoesThroughTheSanitizer(): void
    {
        Settings::register();
        update_option(Settings::OPTION_HOST, 'ftp://elsewhere');
        $this->assertSame(self::$hostUrl, get_option(Settings::OPTION_HOST));
        update_option(Settings::OPTION_TOKEN, 'short');
        $this->assertSame(self::$token, get_option(Settings::OPTION_TOKEN));
    }

    public function testTokenIsWriteOnly(): void
    {
        $this->assertSame(self::$token, Settings::sanitizeToken(''), 'empty keeps the stored token');
        $this->assertSame(self::$token, Settings::sanitizeToken('   '));
        $this->assertSame(self::$token, Settings::sanitizeToken(['not', 'a', 'string']));
        $this->assertSame([], get_settings_errors(Settings::OPTION_TOKEN));
        $new = str_repeat('ab', 32);
        $this->assertSame($new, Settings::sanitizeToken(" $new "));
    }

    public function badTokens(): array
    {
        return [['too-short'], [str_repeat('a', 31)], [str_repeat('a', 20) . ' ' . str_repeat('b', 20)], [str_repeat('é', 40)]];
    }

    /** @dataProvider badTokens */
    public function testBadTokenRefused($in): void
    {
        $this->assertSame(self::$token, Settings::sanitizeToken($in));
        $this->assertCount(1, get_settings_errors(Settings::OPTION_TOKEN));
    }

    public function testTokenFieldNeverShowsTheToken(): void
    {
        $html = $this->output([Settings::class, 'fieldToken']);
        $this->assertStringContainsString('type="password"', $html);
        $this->assertStringContainsString('value=""', $html);
        $this->assertStringNotContainsString(self::$token, $html);
    }

    public function testDocumentHasOnlyChangedFieldsAndTypedSecrets(): void
    {
        $current = [
            'x3' => ['base-url' => 'http://x3:8124', 'api' => 'rest', 'password' => ['set' => true], 'timeout-secs' => 30],
            'orders' => ['sales-site' => 'FR011', 'dimension-types' => ['CCT', 'DEP']],
            'woocommerce' => ['url' => 'http://shop/'],
            'inventory' => ['status-map' => [['status' => 'processing', 'stage' => 'posted']]],
        ];
        $submitted = [
            'x3' => ['base-url' => 'http://x3:8124', 'api' => 'graphql', 'password' => '', 'timeout-secs' => '30'],
            'orders' => ['sales-site' => 'FR012', 'dimension-types' => 'CCT, DEP'],
            'woocommerce' => ['url' => 'http://shop/', 'delivery-url' => 'http://elsewhere/'],
            'inventory' => ['status-map' => "processing=posted\r\ncompleted=shipped\n"],
        ];
        [$doc, $errors] = Settings::buildDocument($submitted, $current);
        $this->assertSame([], $errors);
        $this->assertSame([
            'x3' => ['api' => 'graphql'],
            'orders' => ['sales-site' => 'FR012'],
            'inventory' => ['status-map' => [['status' => 'processing', 'stage' => 'posted'], ['status' => 'completed', 'stage' => 'shipped']]],
        ], $doc, 'unchanged fields, the empty password and a delivery-url the host does not have are left out');

        $submitted['x3']['password'] = 'new <secret> %41';
        $submitted['woocommerce']['delivery-url'] = 'http://127.0.0.1:8787/webhooks/woocommerce';
        $current['woocommerce']['delivery-url'] = 'http://127.0.0.1:8787/webhooks/woocommerce';
        [$doc] = Settings::buildDocument($submitted, $current);
        $this->assertSame('new <secret> %41', $doc['x3']['password'], 'a typed secret is sent as typed');
        $this->assertArrayNotHasKey('woocommerce', $doc);

        $submitted['inventory']['status-map'] = "processing=posted\nnonsense";
        [, $errors] = Settings::buildDocument($submitted, $current);
        $this->assertSame(['inventory.status-map' => 'line 2: write status=stage'], $errors);
    }

    public function testStockSettingsAreSentTypedAndOnlyWhenChanged(): void
    {
        $current = ['stock' => [
            'enabled' => true, 'credit-note-type' => '', 'refund-amount-item' => null, 'cancel' => 'close',
            'restock' => true, 'deliver-charges' => true, 'restock-status' => 'A', 'invoice-stock-issue' => true,
        ]];
        $this->assertSame('true', Settings::display(Settings::fields()['stock']['restock'], true));
        $submitted = ['stock' => [
            'enabled' => 'true', 'credit-note-type' => 'AVO', 'refund-amount-item' => '', 'cancel' => 'ignore',
            'restock' => 'false', 'deliver-charges' => 'true', 'restock-status' => 'A', 'invoice-stock-issue' => 'true',
        ]];
        [$doc, $errors] = Settings::buildDocument($submitted, $current);
        $this->assertSame([], $errors);
        $this->assertSame(
            ['stock' => ['credit-note-type' => 'AVO', 'cancel' => 'ignore', 'restock' => false]],
            $doc,
            'booleans as JSON booleans; an empty item the host has as none is not sent'
        );
        $submitted['stock']['restock'] = 'maybe';
        [, $errors] = Settings::buildDocument($submitted, $current);
        $this->assertSame(['stock.restock' => 'choose yes or no'], $errors);
        // A host without the section (an older version) gets none of it.
        [$doc] = Settings::buildDocument($submitted, []);
        $this->assertSame([], $doc);
    }

    public function testX3NamesAreSentAsTheirChangesAndAKeyLeftOutGoesBackToItsDefault(): void
    {
        $current = ['x3-wire' => ['rest.order.class' => 'YSORDER', 'rest.order.representation' => 'YSOH']];
        $def = Settings::fields()['x3-wire']['names'];
        $this->assertSame(
            "rest.order.class = YSORDER\nrest.order.representation = YSOH",
            Settings::display($def, $current['x3-wire']),
            'shown one key = name a line, sorted'
        );
        $submitted = ['x3-wire' => ['names' => "rest.order.class = YSORDER\r\n# a comment\n\ngraphql.order.node = x3Sales.webOrder\n"]];
        [$doc, $errors] = Settings::buildDocument($submitted, $current);
        $this->assertSame([], $errors);
        $this->assertSame(
            ['x3-wire' => ['graphql.order.node' => 'x3Sales.webOrder', 'rest.order.representation' => null]],
            $doc,
            'the unchanged name is not sent; the one left out is sent as null (back to its default)'
        );
        $submitted['x3-wire']['names'] = "rest.order.class YSORDER";
        [, $errors] = Settings::buildDocument($submitted, $current);
        $this->assertSame(['x3-wire.names' => 'line 1: write key = name'], $errors);
        // A host without the section (an older version) gets nothing.
        [$doc] = Settings::buildDocument(['x3-wire' => ['names' => 'rest.order.class = X']], []);
        $this->assertSame([], $doc);
    }
}
