<?php

namespace MLConnector\Tests;

use MLConnector\Connect;
use MLConnector\Mapping;
use MLConnector\Plugin;
use MLConnector\Settings;
use MLConnector\Status;

/**
 * Every action checks the capability and its nonce before doing anything; the page itself checks
 * the capability. In process for every action, and over HTTP against the served WordPress for the
 * two that answer with a body (status frame, CSV export).
 */
class GuardTest extends TestCase
{
    public function actions(): array
    {
        return [
            'host settings' => [Settings::ACTION_HOST, [Settings::class, 'handleHostForm'], true],
            'connect store' => [Connect::ACTION, [Connect::class, 'handle'], true],
            'mapping save' => [Mapping::ACTION_SAVE, [Mapping::class, 'handleSave'], true],
            'mapping import' => [Mapping::ACTION_IMPORT, [Mapping::class, 'handleImport'], true],
            'mapping export' => [Mapping::ACTION_EXPORT, [Mapping::class, 'handleExport'], false],
            'status frame' => [Status::ACTION_FRAME, [Status::class, 'handleFrame'], false],
            'replay' => [Status::ACTION_REPLAY, [Status::class, 'handleReplay'], true],
            'release holds' => [Status::ACTION_RELEASE, [Status::class, 'handleRelease'], true],
            'register webhooks' => [Status::ACTION_WEBHOOKS, [Status::class, 'handleWebhooks'], true],
            'catch up' => [Status::ACTION_BACKFILL, [Status::class, 'handleBackfill'], true],
            'rotate webhook secret' => [Status::ACTION_ROTATE, [Status::class, 'handleRotate'], true],
            'finish rotation' => [Status::ACTION_FINISH_ROTATION, [Status::class, 'handleFinishRotation'], true],
        ];
    }

    /** @dataProvider actions */
    public function testHookedForLoggedInUsersOnly(string $action, callable $handler): void
    {
        $this->assertSame(10, has_action('admin_post_' . $action, $handler));
        $this->assertFalse(has_action('admin_post_nopriv_' . $action), 'nothing for visitors');
    }

    /** @dataProvider actions */
    public function testSubscriberIsRefusedEvenWithANonce(string $action, callable $handler): void
    {
        wp_set_current_user(self::$subscriber);
        $_POST['_wpnonce'] = $_REQUEST['_wpnonce'] = wp_create_nonce($action);
        $this->assertDies(403, $handler);
    }

    /** @dataProvider actions */
    public function testAdminWithoutNonceIsRefused(string $action, callable $handler): void
    {
        $this->assertDies(403, $handler);
    }

    /** @dataProvider actions */
    public function testAdminWithAnotherActionsNonceIsRefused(string $action, callable $handler): void
    {
        $_POST['_wpnonce'] = $_REQUEST['_wpnonce'] = wp_create_nonce('some_other_action');
        $this->assertDies(403, $handler);
        $_POST['_wpnonce'] = $_REQUEST['_wpnonce'] = 'forged0000';
        $this->assertDies(403, $handler);
    }

    /** The actions that end in a redirect (the other two answer with a body: tested over HTTP). */
    public function redirectingActions(): array
    {
        return array_filter($this->actions(), static function ($a) {
            return $a[2];
        });
    }

    /** @dataProvider redirectingActions */
    public function testAdminWithTheNonceGetsThrough(string $action, callable $handler): void
    {
        $_POST['_wpnonce'] = $_REQUEST['_wpnonce'] = wp_create_nonce($action);
        try {
            $handler();
            $this->fail('the handler should redirect');
        } catch (Redirected $r) {
            $this->assertStringStartsWith(admin_url(), $r->getMessage());
            $this->assertStringContainsString('page=ml-connector', $r->getMessage());
        }
        $this->assertNotEmpty($this->flash()['notice'] ?? '', 'the outcome is left for the next page');
    }

    public function testSettingsLinkOnThePluginsScreen(): void
    {
        $links = apply_filters('plugin_action_links_ml-connector/ml-connector.php', ['deactivate' => 'x']);
        $this->assertStringContainsString('page=ml-connector', $links[0]);
        $this->assertSame('x', $links['deactivate']);
    }

    public function testPageRefusesUsersWithoutTheCapability(): void
    {
        wp_set_current_user(self::$subscriber);
        $this->assertDies(403, [Plugin::class, 'render']);
    }

    public function testCapabilityIsFilterable(): void
    {
        $this->assertSame('manage_options', Plugin::capability());
        $grant = static function () {
            return 'read';
        };
        add_filter('ml_connector_capability', $grant);
        try {
            wp_set_current_user(self::$subscriber);
            $_POST['_wpnonce'] = $_REQUEST['_wpnonce'] = wp_create_nonce(Status::ACTION_RELEASE);
            $this->expectException(Redirected::class);
            Status::handleRelease();
        } finally {
            remove_filter('ml_connector_capability', $grant);
        }
    }

    public function testFrameAndExportOverHttp(): void
    {
        [$admin, $adminNonce] = $this->login(self::$admin, [Status::ACTION_FRAME, Mapping::ACTION_EXPORT]);
        [$sub, $subNonce] = $this->login(self::$subscriber, [Status::ACTION_FRAME]);
        $url = admin_url('admin-post.php');

        $ok = $this->get($url . '?action=' . Status::ACTION_FRAME . '&_wpnonce=' . $adminNonce[Status::ACTION_FRAME], $admin);
        $this->assertSame(200, $ok['status'], $ok['body']);
        $this->assertStringContainsString('id="x3"', $ok['body'], 'the host\'s status page comes through');
        $this->assertStringContainsString("default-src 'none'", $ok['csp']);
        $this->assertStringContainsString("frame-ancestors 'self'", $ok['csp']);
        $this->assertStringNotContainsString(self::$token, $ok['body']);
        $this->assertStringNotContainsString('href="/api/status"', $ok['body'], 'host-relative links do not point into WordPress');

        $this->assertSame(403, $this->get($url . '?action=' . Status::ACTION_FRAME, $admin)['status'], 'no nonce');
        $this->assertSame(403, $this->get($url . '?action=' . Status::ACTION_FRAME . '&_wpnonce=' . $subNonce[Status::ACTION_FRAME], $admin)['status'], 'another user\'s nonce');
        $this->assertSame(403, $this->get($url . '?action=' . Status::ACTION_FRAME . '&_wpnonce=' . $subNonce[Status::ACTION_FRAME], $sub)['status'], 'subscriber');
        $this->assertSame(400, $this->get($url . '?action=' . Status::ACTION_FRAME, [])['status'], 'logged out');

        $csv = $this->get($url . '?action=' . Mapping::ACTION_EXPORT . '&_wpnonce=' . $adminNonce[Mapping::ACTION_EXPORT], $admin);
        $this->assertSame(200, $csv['status']);
        $this->assertStringStartsWith('key_type,key,item_code', $csv['body']);
        $this->assertStringContainsString('attachment', $csv['disposition']);
        $this->assertSame(403, $this->get($url . '?action=' . Mapping::ACTION_EXPORT, $admin)['status']);
    }

    public function testOptionsFormOverHttp(): void
    {
        // options.php: the Settings API's own nonce and manage_options, then our sanitizers.
        [$admin, $adminNonce] = $this->login(self::$admin, [Settings::GROUP . '-options']);
        [$sub, $subNonce] = $this->login(self::$subscriber, [Settings::GROUP . '-options']);
        $post = function (array $cookies, ?string $nonce, string $url): int {
            $body = ['option_page' => Settings::GROUP, 'action' => 'update', Settings::OPTION_HOST => $url, Settings::OPTION_TOKEN => ''];
            if (null !== $nonce) {
                $body['_wpnonce'] = $nonce;
            }
            $r = wp_remote_post(admin_url('options.php'), [
                'cookies' => $cookies,
                'body' => $body,
                'redirection' => 0,
                'timeout' => 30,
                'headers' => ['Referer' => admin_url('options-general.php?page=ml-connector')],
            ]);
            $this->assertNotWPError($r);
            $code = (int) wp_remote_retrieve_response_code($r);
            // WooCommerce sends users without admin access to My account before options.php
            // looks at anything: refused all the same.
            if (302 === $code && false !== strpos((string) wp_remote_retrieve_header($r, 'location'), '/my-account')) {
                return 403;
            }
            return $code;
        };
        $stored = function (): string {
            global $wpdb;
            return (string) $wpdb->get_var($wpdb->prepare("SELECT option_value FROM {$wpdb->options} WHERE option_name = %s", Settings::OPTION_HOST));
        };
        $this->assertSame(403, $post($sub, $subNonce[Settings::GROUP . '-options'], 'http://127.0.0.1:1'), 'subscriber');
        $this->assertSame(self::$hostUrl, $stored());
        $this->assertSame(403, $post($admin, null, 'http://127.0.0.1:1'), 'no nonce');
        $this->assertSame(self::$hostUrl, $stored());
        $this->assertSame(302, $post($admin, $adminNonce[Settings::GROUP . '-options'], 'ftp://127.0.0.1:1'), 'saved, with a field error');
        $this->assertSame(self::$hostUrl, $stored(), 'the sanitizer refused the URL');
        $this->assertSame(302, $post($admin, $adminNonce[Settings::GROUP . '-options'], 'http://127.0.0.1:1/'));
        $this->assertSame('http://127.0.0.1:1', $stored(), 'a valid URL is stored, normalised');
        wp_cache_flush(); // the server wrote the database behind this process's cache.
        $this->assertSame(self::$token, get_option(Settings::OPTION_TOKEN), 'an empty token field kept the token');
        $this->configureHost();
        $this->assertSame(self::$hostUrl, $stored());
    }

    /**
     * Regression (issue 14): options.php checks `option_page_capability_ml_connector` (default
     * manage_options), which the plugin did not filter: with `ml_connector_capability` lowered,
     * a connector manager could open the page but saving the host URL was refused (403).
     */
    public function testALoweredCapabilityCanSaveTheConnectionOverHttp(): void
    {
        // view_admin_dashboard: WooCommerce lets such a user into wp-admin.
        remove_role('mlc_connector_manager');
        add_role('mlc_connector_manager', 'Connector manager', ['read' => true, 'view_admin_dashboard' => true, 'mlc_manage_connector' => true]);
        $managerId = get_user_by('login', 'connector-manager');
        $manager = $managerId ? (int) $managerId->ID : (int) wp_insert_user([
            'user_login' => 'connector-manager',
            'user_pass' => wp_generate_password(),
            'user_email' => 'manager@example.test',
            'role' => 'mlc_connector_manager',
        ]);
        // The site lowers the capability (the test site's mu-plugin applies this option).
        update_option('mlc_test_capability', 'mlc_manage_connector');
        try {
            $this->assertSame('mlc_manage_connector', Plugin::capability());
            $this->assertSame('mlc_manage_connector', apply_filters('option_page_capability_' . Settings::GROUP, 'manage_options'));
            [$cookies, $nonces] = $this->login($manager, [Settings::GROUP . '-options']);
            $r = wp_remote_post(admin_url('options.php'), [
                'cookies' => $cookies,
                'body' => [
                    'option_page' => Settings::GROUP,
                    'action' => 'update',
                    '_wpnonce' => $nonces[Settings::GROUP . '-options'],
                    Settings::OPTION_HOST => 'http://127.0.0.1:2/',
                    Settings::OPTION_TOKEN => '',
                ],
                'redirection' => 0,
                'timeout' => 30,
                'headers' => ['Referer' => admin_url('options-general.php?page=ml-connector')],
            ]);
            $this->assertNotWPError($r);
            $this->assertSame(302, (int) wp_remote_retrieve_response_code($r), (string) wp_remote_retrieve_body($r));
            global $wpdb;
            $stored = (string) $wpdb->get_var($wpdb->prepare("SELECT option_value FROM {$wpdb->options} WHERE option_name = %s", Settings::OPTION_HOST));
            $this->assertSame('http://127.0.0.1:2', $stored, 'the connector manager saved the host URL');
            // A subscriber still cannot.
            [$sub, $subNonce] = $this->login(self::$subscriber, [Settings::GROUP . '-options']);
            $r = wp_remote_post(admin_url('options.php'), [
                'cookies' => $sub,
                'body' => ['option_page' => Settings::GROUP, 'action' => 'update', '_wpnonce' => $subNonce[Settings::GROUP . '-options'], Settings::OPTION_HOST => 'http://127.0.0.1:3/'],
                'redirection' => 0,
                'timeout' => 30,
            ]);
            $refused = 403 === (int) wp_remote_retrieve_response_code($r)
                || false !== strpos((string) wp_remote_retrieve_header($r, 'location'), '/my-account');
            $this->assertTrue($refused, 'refused: ' . wp_remote_retrieve_response_code($r));
            $this->assertSame('http://127.0.0.1:2', (string) $wpdb->get_var($wpdb->prepare("SELECT option_value FROM {$wpdb->options} WHERE option_name = %s", Settings::OPTION_HOST)));
        } finally {
            delete_option('mlc_test_capability');
            wp_cache_flush();
            $this->configureHost();
        }
    }

    private function assertDies(int $status, callable $handler): void
    {
        $before = get_transient(Plugin::FLASH . get_current_user_id());
        try {
            $this->output($handler);
            $this->fail('expected wp_die()');
        } catch (Died $d) {
            $this->assertSame($status, $d->status);
        }
        $this->assertSame($before, get_transient(Plugin::FLASH . get_current_user_id()), 'nothing was done');
    }

    /**
     * Auth cookies for a user with a fresh session, and nonces valid for that session.
     *
     * @return array{0:array,1:array}
     */
    private function login(int $user, array $actions): array
    {
        $expiration = time() + HOUR_IN_SECONDS;
        $token = \WP_Session_Tokens::get_instance($user)->create($expiration);
        $cookies = [
            AUTH_COOKIE => wp_generate_auth_cookie($user, $expiration, 'auth', $token),
            LOGGED_IN_COOKIE => wp_generate_auth_cookie($user, $expiration, 'logged_in', $token),
        ];
        $saved = $_COOKIE;
        $_COOKIE[LOGGED_IN_COOKIE] = $cookies[LOGGED_IN_COOKIE];
        wp_set_current_user($user);
        $nonces = [];
        foreach ($actions as $action) {
            $nonces[$action] = wp_create_nonce($action);
        }
        $_COOKIE = $saved;
        wp_set_current_user(self::$admin);
        return [$cookies, $nonces];
    }

    private function get(string $url, array $cookies): array
    {
        $r = wp_remote_get($url, ['cookies' => $cookies, 'redirection' => 0, 'timeout' => 30]);
        $this->assertNotWPError($r);
        return [
            'status' => (int) wp_remote_retrieve_response_code($r),
            'body' => (string) wp_remote_retrieve_body($r),
            'csp' => (string) wp_remote_retrieve_header($r, 'content-security-policy'),
            'disposition' => (string) wp_remote_retrieve_header($r, 'content-disposition'),
        ];
    }
}
