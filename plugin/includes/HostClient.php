<?php

/**
 * The host's admin API and status endpoints, called from PHP only: the admin token never
 * reaches the browser.
 *
 * @package MLConnector
 */

namespace MLConnector;

if (!defined('ABSPATH')) {
    exit;
}

/**
 * A small client for `/api/admin/…`, `/api/status` and `/status` of the ml-connector host.
 */
class HostClient
{
    /** @var string Base URL of the host, without a trailing slash. */
    private $baseUrl;

    /** @var string The admin token (Bearer). */
    private $token;

    /**
     * @param string $baseUrl Base URL of the host (scheme, host, port).
     * @param string $token   Admin token.
     */
    public function __construct(string $baseUrl, string $token)
    {
        $this->baseUrl = untrailingslashit($baseUrl);
        $this->token = $token;
    }

    /**
     * The client for the configured host, or null when the host URL or token is missing.
     */
    public static function fromOptions(): ?self
    {
        $url = (string) get_option(Settings::OPTION_HOST, '');
        $token = (string) get_option(Settings::OPTION_TOKEN, '');
        if ('' === $url || '' === $token) {
            return null;
        }
        return new self($url, $token);
    }

    /**
     * The host's base URL.
     */
    public function baseUrl(): string
    {
        return $this->baseUrl;
    }

    /**
     * One request to the host.
     *
     * @param string            $method  HTTP method.
     * @param string            $path    Path starting with `/`.
     * @param array|string|null $body    Array → JSON; string sent as is; null → no body.
     * @param array             $options `content_type`, `accept`, `timeout`, `auth` (bool).
     * @return array{status:int,body:string,json:mixed,error:?string,headers:array}
     *         status 0 and error set when the host could not be reached.
     */
    public function request(string $method, string $path, $body = null, array $options = []): array
    {
        $headers = ['Accept' => $options['accept'] ?? 'application/json'];
        if ($options['auth'] ?? true) {
            $headers['Authorization'] = 'Bearer ' . $this->token;
        }
        $args = [
            'method' => $method,
            'timeout' => $options['timeout'] ?? 20,
            'redirection' => 0,
            'headers' => $headers,
        ];
        if (is_array($body)) {
            $args['body'] = wp_json_encode((object) $body);
            $args['headers']['Content-Type'] = 'application/json';
        } elseif (is_string($body)) {
            $args['body'] = $body;
            $args['headers']['Content-Type'] = $options['content_type'] ?? 'application/json';
        }
        $response = wp_remote_request($this->baseUrl . $path, $args);
        if (is_wp_error($response)) {
            return [
                'status' => 0,
                'body' => '',
                'json' => null,
                'error' => $this->scrub($response->get_error_message()),
                'headers' => [],
            ];
        }
        $status = (int) wp_remote_retrieve_response_code($response);
        $text = (string) wp_remote_retrieve_body($response);
        $json = json_decode($text, true);
        $error = null;
        if ($status >= 400) {
            $error = is_array($json) && isset($json['error']) && is_string($json['error'])
                ? $json['error']
                /* translators: %d: HTTP status code */
                : sprintf(__('the host answered HTTP %d', 'ml-connector'), $status);
            $error = $this->scrub($error);
        }
        return [
            'status' => $status,
            'body' => $text,
            'json' => $json,
            'error' => $error,
            'headers' => wp_remote_retrieve_headers($response),
        ];
    }

    /**
     * GET an admin API path as JSON.
     *
     * @param string $path Path under the host, e.g. `/api/admin/settings`.
     */
    public function get(string $path): array
    {
        return $this->request('GET', $path);
    }

    /**
     * A message with the token removed, in case a transport error repeats a header.
     *
     * @param string $message Message.
     */
    private function scrub(string $message): string
    {
        return '' === $this->token ? $message : str_replace($this->token, '***', $message);
    }
}
