<?php

namespace MLConnector\Tests;

use MLConnector\Plugin;
use MLConnector\Settings;

/** wp_die() in a test. */
class Died extends \RuntimeException
{
    /** @var int */
    public $status;
}

/** wp_safe_redirect() in a test: where to. */
class Redirected extends \RuntimeException
{
}

/**
 * Shared set-up: wp_die() and redirects throw instead of ending the process, an administrator is
 * logged in, the host of tests/wp/run is configured.
 */
abstract class TestCase extends \PHPUnit\Framework\TestCase
{
    /** @var string */
    protected static $token;
    /** @var string */
    protected static $hostUrl;
    /** @var int */
    protected static $admin;
    /** @var int */
    protected static $subscriber;

    public static function setUpBeforeClass(): void
    {
        self::$token = trim((string) file_get_contents(getenv('HOST_TOKEN_FILE')));
        self::$hostUrl = getenv('HOST_URL');
        self::$admin = (int) get_user_by('login', 'admin')->ID;
        $sub = get_user_by('login', 'subscriber');
        self::$subscriber = $sub ? (int) $sub->ID : (int) wp_insert_user([
            'user_login' => 'subscriber',
            'user_pass' => wp_generate_password(),
            'user_email' => 'subscriber@example.test',
            'role' => 'subscriber',
        ]);
    }

    protected function setUp(): void
    {
        add_filter('wp_die_handler', [$this, 'dieHandler']);
        add_filter('wp_redirect', [$this, 'redirectHandler'], 1000);
        wp_set_current_user(self::$admin);
        $_GET = $_POST = $_REQUEST = [];
        delete_transient(Plugin::FLASH . self::$admin);
        $this->configureHost();
    }

    protected function tearDown(): void
    {
        remove_filter('wp_die_handler', [$this, 'dieHandler']);
        remove_filter('wp_redirect', [$this, 'redirectHandler'], 1000);
        $_GET = $_POST = $_REQUEST = [];
        wp_set_current_user(0);
    }

    public function dieHandler()
    {
        return static function ($message, $title = '', $args = []) {
            $e = new Died(is_string($message) ? $message : 'wp_die');
            $e->status = is_array($args) && isset($args['response']) ? (int) $args['response'] : 500;
            throw $e;
        };
    }

    public function redirectHandler($location)
    {
        throw new Redirected((string) $location);
    }

    protected function configureHost(): void
    {
        update_option(Settings::OPTION_HOST, self::$hostUrl);
        update_option(Settings::OPTION_TOKEN, self::$token);
    }

    /** What a callable prints. */
    protected function output(callable $fn): string
    {
        ob_start();
        try {
            $fn();
        } finally {
            $out = (string) ob_get_clean();
        }
        return $out;
    }

    /** The admin API of the real host. */
    protected function host(string $method, string $path, ?string $body = null, string $type = 'application/json'): array
    {
        $r = wp_remote_request(self::$hostUrl . $path, [
            'method' => $method,
            'headers' => ['Authorization' => 'Bearer ' . self::$token, 'Content-Type' => $type],
            'body' => $body,
            'timeout' => 30,
        ]);
        $this->assertNotWPError($r);
        return [(int) wp_remote_retrieve_response_code($r), json_decode(wp_remote_retrieve_body($r), true)];
    }

    protected function assertNotWPError($value): void
    {
        $this->assertFalse(is_wp_error($value), is_wp_error($value) ? $value->get_error_message() : '');
    }

    /** The flashed data the last action left. */
    protected function flash(): array
    {
        $v = get_transient(Plugin::FLASH . get_current_user_id());
        return is_array($v) ? $v : [];
    }
}
