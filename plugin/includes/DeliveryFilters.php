<?php

/**
 * Lets WooCommerce deliver webhooks to the host, and nowhere else that WordPress would refuse.
 *
 * WooCommerce delivers with wp_safe_remote_request(), which refuses loopback and private
 * addresses and any port but 80, 443 and 8080 (wp_http_validate_url()). A host on
 * 127.0.0.1:8787 is both. These filters make exactly one exception: the host's delivery URL
 * (same scheme, host, port and path; the query is not compared). Every other URL gets
 * WordPress's own answer unchanged.
 *
 * @package MLConnector
 */

namespace MLConnector;

if (!defined('ABSPATH')) {
    exit;
}

/**
 * `http_request_host_is_external` and `http_allowed_safe_ports`.
 */
class DeliveryFilters
{
    /**
     * Hooks.
     */
    public static function boot(): void
    {
        add_filter('http_request_host_is_external', [self::class, 'hostIsExternal'], 10, 3);
        add_filter('http_allowed_safe_ports', [self::class, 'allowedPorts'], 10, 3);
    }

    /**
     * The delivery URL in force: the one the host announced, else the host URL +
     * `/webhooks/woocommerce`; '' when the plugin is not configured.
     */
    public static function deliveryUrl(): string
    {
        $url = (string) get_option(Settings::OPTION_DELIVERY, '');
        if ('' === $url) {
            $host = (string) get_option(Settings::OPTION_HOST, '');
            $url = '' === $host ? '' : untrailingslashit($host) . '/webhooks/woocommerce';
        }
        return $url;
    }

    /**
     * Scheme, lowercase host, port (default for the scheme) and path of a URL, or null.
     *
     * @param string $url URL.
     * @return array{0:string,1:string,2:int,3:string}|null
     */
    public static function parts(string $url): ?array
    {
        $p = wp_parse_url($url);
        if (!is_array($p) || empty($p['scheme']) || empty($p['host'])) {
            return null;
        }
        $scheme = strtolower($p['scheme']);
        if (!in_array($scheme, ['http', 'https'], true)) {
            return null;
        }
        $port = isset($p['port']) ? (int) $p['port'] : ('https' === $scheme ? 443 : 80);
        $path = isset($p['path']) && '' !== $p['path'] ? $p['path'] : '/';
        return [$scheme, strtolower(trim($p['host'], '[].')), $port, $path];
    }

    /**
     * Whether $url is the delivery URL.
     *
     * @param string $url URL WordPress is about to request.
     */
    public static function isDeliveryUrl(string $url): bool
    {
        $target = self::deliveryUrl();
        if ('' === $target) {
            return false;
        }
        $want = self::parts($target);
        $got = self::parts($url);
        return null !== $want && null !== $got && $want === $got;
    }

    /**
     * Filter `http_request_host_is_external`: true for the delivery URL only.
     *
     * @param bool   $external What earlier filters decided.
     * @param string $host     Host of the URL.
     * @param string $url      The URL.
     */
    public static function hostIsExternal($external, $host = '', $url = '')
    {
        if ($external) {
            return $external;
        }
        return is_string($url) && self::isDeliveryUrl($url);
    }

    /**
     * Filter `http_allowed_safe_ports`: adds the delivery URL's port for that URL only.
     *
     * @param mixed  $ports Ports allowed so far.
     * @param string $host  Host of the URL.
     * @param string $url   The URL.
     */
    public static function allowedPorts($ports, $host = '', $url = '')
    {
        if (!is_array($ports) || !is_string($url) || !self::isDeliveryUrl($url)) {
            return $ports;
        }
        $parts = self::parts($url);
        if (null !== $parts && !in_array($parts[2], $ports, true)) {
            $ports[] = $parts[2];
        }
        return $ports;
    }
}
