<?php

/**
 * Settings: the two WordPress options (host URL, admin token) through the Settings API, and the
 * host's own settings (X3, documents, store, status map) edited here and saved on the host
 * through `PUT /api/admin/settings`, with its field-level errors shown next to the fields.
 *
 * @package MLConnector
 */

namespace MLConnector;

if (!defined('ABSPATH')) {
    exit;
}

/**
 * Options and the host settings form.
 */
class Settings
{
    /** The host's section of X3 names (`[x3.wire]`). */
    public const WIRE = 'x3-wire';

    public const GROUP = 'ml_connector';
    public const OPTION_HOST = 'ml_connector_host_url';
    public const OPTION_TOKEN = 'ml_connector_admin_token';
    /** The host's delivery URL as last read from it (used by DeliveryFilters, no HTTP there). */
    public const OPTION_DELIVERY = 'ml_connector_delivery_url';
    public const ACTION_HOST = 'ml_connector_host_settings';

    /**
     * Hooks.
     */
    public static function boot(): void
    {
        add_action('admin_init', [self::class, 'register']);
        add_action('admin_post_' . self::ACTION_HOST, [self::class, 'handleHostForm']);
        add_action('update_option_' . self::OPTION_HOST, [self::class, 'refreshDeliveryUrl'], 10, 0);
        add_action('add_option_' . self::OPTION_HOST, [self::class, 'refreshDeliveryUrl'], 10, 0);
        add_action('update_option_' . self::OPTION_TOKEN, [self::class, 'refreshDeliveryUrl'], 10, 0);
        add_action('add_option_' . self::OPTION_TOKEN, [self::class, 'refreshDeliveryUrl'], 10, 0);
    }

    /**
     * Settings API registration of the plugin's own options.
     */
    public static function register(): void
    {
        register_setting(self::GROUP, self::OPTION_HOST, [
            'type' => 'string',
            'description' => __('Base URL of the ml-connector host', 'ml-connector'),
            'sanitize_callback' => [self::class, 'sanitizeHostUrl'],
            'show_in_rest' => false,
            'default' => '',
        ]);
        register_setting(self::GROUP, self::OPTION_TOKEN, [
            'type' => 'string',
            'description' => __('Admin token of the ml-connector host', 'ml-connector'),
            'sanitize_callback' => [self::class, 'sanitizeToken'],
            'show_in_rest' => false,
            'default' => '',
        ]);
        add_settings_section('ml_connector_host', __('Connection to the host', 'ml-connector'), [self::class, 'sectionIntro'], Plugin::SLUG);
        add_settings_field(self::OPTION_HOST, __('Host URL', 'ml-connector'), [self::class, 'fieldHostUrl'], Plugin::SLUG, 'ml_connector_host', ['label_for' => self::OPTION_HOST]);
        add_settings_field(self::OPTION_TOKEN, __('Admin token', 'ml-connector'), [self::class, 'fieldToken'], Plugin::SLUG, 'ml_connector_host', ['label_for' => self::OPTION_TOKEN]);
    }

    /**
     * Host URL: `http://` or `https://`, a host, optional port and path; no credentials, query
     * or fragment. An invalid value is refused (the old one is kept) with a field error.
     *
     * @param mixed $value Submitted value.
     */
    public static function sanitizeHostUrl($value): string
    {
        $old = (string) get_option(self::OPTION_HOST, '');
        $value = is_string($value) ? trim($value) : '';
        if ('' === $value) {
            return '';
        }
        $parts = wp_parse_url($value);
        $valid = is_array($parts)
            && isset($parts['scheme'], $parts['host'])
            && in_array(strtolower($parts['scheme']), ['http', 'https'], true)
            && '' !== $parts['host']
            && !isset($parts['user'])
            && !isset($parts['pass'])
            && !isset($parts['query'])
            && !isset($parts['fragment'])
            && !preg_match('/[\s\x00-\x1f\x7f]/', $value);
        if (!$valid) {
            add_settings_error(
                self::OPTION_HOST,
                'invalid',
                __('The host URL must be an http:// or https:// URL with a host (and port), without user, query or fragment, e.g. http://127.0.0.1:8787.', 'ml-connector')
            );
            return $old;
        }
        return untrailingslashit(esc_url_raw($value, ['http', 'https']));
    }

    /**
     * Admin token: write-only. Empty keeps the stored token; otherwise 32 or more printable
     * characters without spaces (the host's rule), else refused with a field error.
     *
     * @param mixed $value Submitted value.
     */
    public static function sanitizeToken($value): string
    {
        $old = (string) get_option(self::OPTION_TOKEN, '');
        $value = is_string($value) ? trim($value) : '';
        if ('' === $value) {
            return $old;
        }
        if (strlen($value) < 32 || !preg_match('/^[\x21-\x7e]+$/', $value)) {
            add_settings_error(
                self::OPTION_TOKEN,
                'invalid',
                __('The admin token is 32 or more printable characters without spaces: the content of admin.token in the host\'s data directory.', 'ml-connector')
            );
            return $old;
        }
        return $value;
    }

    /**
     * Section text.
     */
    public static function sectionIntro(): void
    {
        echo '<p>' . esc_html__('Where the ml-connector host listens, and its admin token (the file admin.token in its data directory). The token stays on this server: the browser never receives it.', 'ml-connector') . '</p>';
    }

    /**
     * Host URL input.
     */
    public static function fieldHostUrl(): void
    {
        printf(
            '<input type="url" class="regular-text" id="%1$s" name="%1$s" value="%2$s" placeholder="http://127.0.0.1:8787">',
            esc_attr(self::OPTION_HOST),
            esc_attr((string) get_option(self::OPTION_HOST, ''))
        );
        self::optionErrors(self::OPTION_HOST);
    }

    /**
     * Token input: never filled in, says whether one is stored.
     */
    public static function fieldToken(): void
    {
        $set = '' !== (string) get_option(self::OPTION_TOKEN, '');
        printf(
            '<input type="password" class="regular-text" id="%1$s" name="%1$s" value="" autocomplete="new-password" placeholder="%2$s">',
            esc_attr(self::OPTION_TOKEN),
            esc_attr($set ? __('stored — leave empty to keep', 'ml-connector') : __('not set', 'ml-connector'))
        );
        self::optionErrors(self::OPTION_TOKEN);
    }

    /**
     * Field-level Settings API errors for one option.
     *
     * @param string $option Option name.
     */
    private static function optionErrors(string $option): void
    {
        foreach (get_settings_errors($option) as $error) {
            printf(
                '<p class="ml-connector-field-error" id="%s-error">%s</p>',
                esc_attr($option),
                esc_html($error['message'])
            );
        }
    }

    /**
     * Re-reads the delivery URL the host announces (contract: `woocommerce.delivery-url`); without
     * it (older host, or not reachable) the host URL + `/webhooks/woocommerce`.
     *
     * @param array|null $settings The host's settings when already read (no second request).
     */
    public static function refreshDeliveryUrl(?array $settings = null): void
    {
        $url = '';
        if (null === $settings) {
            $client = HostClient::fromOptions();
            if (null !== $client) {
                $answer = $client->request('GET', '/api/admin/settings', null, ['timeout' => 5]);
                $settings = 200 === $answer['status'] && is_array($answer['json']) ? $answer['json'] : null;
            }
        }
        if (null !== $settings) {
            $url = (string) ($settings['woocommerce']['delivery-url'] ?? '');
        }
        if ('' === $url) {
            $host = (string) get_option(self::OPTION_HOST, '');
            $url = '' === $host ? '' : untrailingslashit($host) . '/webhooks/woocommerce';
        }
        update_option(self::OPTION_DELIVERY, $url, false);
    }

    /**
     * The host settings the form edits: section → field → [label, type, extra].
     * Types: text, url, select (with `options`), bool, secret, int, list (comma-separated),
     * statusmap, wiremap. `optional`: shown only when the host has the field (older hosts lack it).
     */
    public static function fields(): array
    {
        return [
            'x3' => [
                '_title' => __('Sage X3', 'ml-connector'),
                'base-url' => ['label' => __('Base URL and port', 'ml-connector'), 'type' => 'url', 'help' => __('The Syracuse web server, e.g. https://x3.example.com:8124', 'ml-connector')],
                'folder' => ['label' => __('Folder / endpoint', 'ml-connector'), 'type' => 'text'],
                'api' => ['label' => __('API', 'ml-connector'), 'type' => 'select', 'options' => ['rest' => 'REST (api1)', 'graphql' => 'GraphQL']],
                'auth' => ['label' => __('Authentication', 'ml-connector'), 'type' => 'select', 'options' => ['basic' => __('Basic (user and password)', 'ml-connector'), 'connected-app' => __('Connected app (JWT)', 'ml-connector'), 'oauth2' => 'OAuth2']],
                'user' => ['label' => __('User (Basic)', 'ml-connector'), 'type' => 'text'],
                'password' => ['label' => __('Password (Basic)', 'ml-connector'), 'type' => 'secret'],
                'client-id' => ['label' => __('Client ID (connected app)', 'ml-connector'), 'type' => 'text'],
                'secret' => ['label' => __('Secret (connected app)', 'ml-connector'), 'type' => 'secret'],
                'jwt-user' => ['label' => __('JWT user (connected app)', 'ml-connector'), 'type' => 'text'],
                'token-url' => ['label' => __('Token URL (OAuth2)', 'ml-connector'), 'type' => 'url'],
                'oauth-client-id' => ['label' => __('Client ID (OAuth2)', 'ml-connector'), 'type' => 'text'],
                'oauth-client-secret' => ['label' => __('Client secret (OAuth2)', 'ml-connector'), 'type' => 'secret'],
                'timeout-secs' => ['label' => __('Timeout (seconds)', 'ml-connector'), 'type' => 'int'],
            ],
            'orders' => [
                '_title' => __('Documents', 'ml-connector'),
                'sales-site' => ['label' => __('Sales site', 'ml-connector'), 'type' => 'text'],
                'shipment-site' => ['label' => __('Shipment site', 'ml-connector'), 'type' => 'text', 'help' => __('Empty: the sales site', 'ml-connector')],
                'order-type' => ['label' => __('Order type', 'ml-connector'), 'type' => 'text'],
                'invoice-type' => ['label' => __('Invoice type', 'ml-connector'), 'type' => 'text'],
                'customer-category' => ['label' => __('Customer category', 'ml-connector'), 'type' => 'text'],
                'document-kind' => ['label' => __('Document kind', 'ml-connector'), 'type' => 'select', 'options' => ['order' => __('Sales order (SORDER)', 'ml-connector'), 'invoice' => __('Invoice (SINVOICE)', 'ml-connector')]],
                'price-basis' => ['label' => __('Prices', 'ml-connector'), 'type' => 'select', 'options' => ['net' => __('Net (after coupons)', 'ml-connector'), 'gross' => __('Gross (before coupons)', 'ml-connector')]],
                'reference-prefix' => ['label' => __('Reference prefix', 'ml-connector'), 'type' => 'text'],
                'customer-prefix' => ['label' => __('Customer code prefix', 'ml-connector'), 'type' => 'text'],
                'guest-customer' => ['label' => __('Guest customer', 'ml-connector'), 'type' => 'text'],
                'default-sales-unit' => ['label' => __('Default sales unit', 'ml-connector'), 'type' => 'text'],
                'dimension-types' => ['label' => __('Dimension types', 'ml-connector'), 'type' => 'list', 'help' => __('Comma-separated X3 dimension type codes, e.g. CCT, DEP', 'ml-connector')],
            ],
            'woocommerce' => [
                '_title' => __('Store (as the host reaches it)', 'ml-connector'),
                'url' => ['label' => __('Store URL', 'ml-connector'), 'type' => 'url'],
                'consumer-key' => ['label' => __('Consumer key', 'ml-connector'), 'type' => 'text'],
                'consumer-secret' => ['label' => __('Consumer secret', 'ml-connector'), 'type' => 'secret'],
                'webhook-secret' => ['label' => __('Webhook secret', 'ml-connector'), 'type' => 'secret', 'help' => __('A new secret starts a rotation: deliveries signed with the old or the new one are accepted until the rotation is finished (Status tab, Webhooks).', 'ml-connector')],
                'delivery-url' => ['label' => __('Webhook delivery URL', 'ml-connector'), 'type' => 'url', 'optional' => true, 'help' => __('Where WooCommerce delivers webhooks: the host\'s public URL + /webhooks/woocommerce', 'ml-connector')],
            ],
            'x3-wire' => [
                '_title' => __('X3 names (advanced)', 'ml-connector'),
                'names' => ['label' => __('Names of this X3 site', 'ml-connector'), 'type' => 'wiremap', 'optional' => true, 'help' => __('Only for sites that publish their own classes, representations or fields. One key = name a line, e.g. rest.order.class = YSORDER; a key left out goes back to the default. The keys and their defaults are listed in docs/x3-wire-format.md and by the host\'s config check.', 'ml-connector')],
            ],
            'inventory' => [
                '_title' => __('Order status → stock', 'ml-connector'),
                'status-map' => ['label' => __('Status map', 'ml-connector'), 'type' => 'statusmap', 'help' => __('One rule a line: status=stage, stage one of none, posted, shipped, delivered, cancelled', 'ml-connector')],
            ],
            'stock' => [
                '_title' => __('After posting: deliveries, cancellations, refunds', 'ml-connector'),
                'enabled' => ['label' => __('Act in X3 after posting', 'ml-connector'), 'type' => 'bool', 'optional' => true, 'help' => __('No: orders are posted and nothing more is done in X3 for them.', 'ml-connector')],
                'credit-note-type' => ['label' => __('Credit note type', 'ml-connector'), 'type' => 'text', 'optional' => true, 'help' => __('The invoice type (SIVTYP) of credit notes on this X3 site. Empty: refunds wait on the order page until it is set.', 'ml-connector')],
                'refund-amount-item' => ['label' => __('Item for refunded amounts', 'ml-connector'), 'type' => 'text', 'optional' => true, 'help' => __('X3 item for amounts refunded on no product line. Empty: such refunds wait for a person.', 'ml-connector')],
                'cancel' => ['label' => __('Cancelled before shipment', 'ml-connector'), 'type' => 'select', 'optional' => true, 'options' => ['close' => __('Close the X3 sales order', 'ml-connector'), 'delete' => __('Delete the X3 sales order', 'ml-connector'), 'ignore' => __('Leave it; ask a person', 'ml-connector')]],
                'restock' => ['label' => __('Put restocked units back in X3', 'ml-connector'), 'type' => 'bool', 'optional' => true],
                'restock-status' => ['label' => __('Stock status of units put back', 'ml-connector'), 'type' => 'text', 'optional' => true],
                'deliver-charges' => ['label' => __('Deliver shipping and fee lines too', 'ml-connector'), 'type' => 'bool', 'optional' => true],
                'invoice-stock-issue' => ['label' => __('Invoiced orders leave X3 stock when they ship', 'ml-connector'), 'type' => 'bool', 'optional' => true],
            ],
        ];
    }

    /**
     * `section.field` → value, from the host's settings document (secrets as `{"set": …}`).
     *
     * @param array $doc Settings document.
     */
    public static function flatten(array $doc): array
    {
        $flat = [];
        foreach ($doc as $section => $fields) {
            if (!is_array($fields)) {
                continue;
            }
            if (self::WIRE === $section) {
                // One map of overrides (key → name), edited as one field.
                $flat[self::WIRE . '.names'] = $fields;
                continue;
            }
            foreach ($fields as $name => $value) {
                $flat[$section . '.' . $name] = $value;
            }
        }
        return $flat;
    }

    /**
     * A field's value as the form shows it.
     *
     * @param array $def   Field definition.
     * @param mixed $value Value from the host.
     */
    public static function display(array $def, $value): string
    {
        if (null === $value) {
            return '';
        }
        switch ($def['type']) {
            case 'bool':
                return is_bool($value) ? ($value ? 'true' : 'false') : (is_scalar($value) ? (string) $value : '');
            case 'list':
                return is_array($value) ? implode(', ', array_map('strval', $value)) : (string) $value;
            case 'statusmap':
                if (!is_array($value)) {
                    return (string) $value;
                }
                $lines = [];
                foreach ($value as $rule) {
                    $lines[] = ($rule['status'] ?? '') . '=' . ($rule['stage'] ?? '');
                }
                return implode("\n", $lines);
            case 'wiremap':
                if (!is_array($value)) {
                    return '';
                }
                ksort($value);
                $lines = [];
                foreach ($value as $key => $name) {
                    $lines[] = $key . ' = ' . (is_scalar($name) ? (string) $name : '');
                }
                return implode("\n", $lines);
            case 'secret':
                return '';
            default:
                return is_scalar($value) ? (string) $value : '';
        }
    }

    /**
     * The value to send for one submitted field, or an error message.
     *
     * @param array  $def Field definition.
     * @param string $raw Submitted text.
     * @return array{0:mixed,1:?string} value, error
     */
    public static function parse(array $def, string $raw): array
    {
        switch ($def['type']) {
            case 'secret':
                return [$raw, null];
            case 'bool':
                if (!in_array($raw, ['true', 'false'], true)) {
                    return [null, __('choose yes or no', 'ml-connector')];
                }
                return ['true' === $raw, null];
            case 'int':
                $raw = trim($raw);
                return [preg_match('/^\d+$/', $raw) ? (int) $raw : $raw, null];
            case 'list':
                $items = array_values(array_filter(array_map('trim', explode(',', $raw)), 'strlen'));
                return [$items, null];
            case 'statusmap':
                $rules = [];
                foreach (preg_split('/\r\n|\r|\n/', $raw) as $i => $line) {
                    $line = trim($line);
                    if ('' === $line) {
                        continue;
                    }
                    $pair = array_map('trim', explode('=', $line, 2));
                    if (2 !== count($pair) || '' === $pair[0] || '' === $pair[1]) {
                        /* translators: %d: line number */
                        return [null, sprintf(__('line %d: write status=stage', 'ml-connector'), $i + 1)];
                    }
                    $rules[] = ['status' => $pair[0], 'stage' => $pair[1]];
                }
                return [$rules, null];
            case 'wiremap':
                $names = [];
                foreach (preg_split('/\r\n|\r|\n/', $raw) as $i => $line) {
                    $line = trim($line);
                    if ('' === $line || '#' === $line[0]) {
                        continue;
                    }
                    $pair = array_map('trim', explode('=', $line, 2));
                    if (2 !== count($pair) || '' === $pair[0] || '' === $pair[1]) {
                        /* translators: %d: line number */
                        return [null, sprintf(__('line %d: write key = name', 'ml-connector'), $i + 1)];
                    }
                    // The host checks keys and names (and says which one is wrong).
                    $names[sanitize_text_field($pair[0])] = sanitize_text_field($pair[1]);
                }
                return [$names, null];
            default:
                return [sanitize_text_field($raw), null];
        }
    }

    /**
     * Builds the settings document to send from the submitted form: only the fields that differ
     * from what the host has now (so the host's defaults stay defaults), secrets only when typed.
     *
     * @param array $submitted `host` from the form: section → field → text.
     * @param array $current   The host's settings now.
     * @return array{0:array,1:array} document, local errors (`section.field` → message)
     */
    public static function buildDocument(array $submitted, array $current): array
    {
        $doc = [];
        $errors = [];
        $now = self::flatten($current);
        foreach (self::fields() as $section => $defs) {
            foreach ($defs as $name => $def) {
                if ('_title' === $name) {
                    continue;
                }
                $key = $section . '.' . $name;
                if (!empty($def['optional']) && !array_key_exists($key, $now)) {
                    continue; // the host does not have this setting (older version).
                }
                if (!isset($submitted[$section][$name]) || !is_string($submitted[$section][$name])) {
                    continue;
                }
                $raw = $submitted[$section][$name];
                if ('secret' === $def['type'] && '' === $raw) {
                    continue; // write-only: empty keeps the stored secret.
                }
                [$value, $error] = self::parse($def, $raw);
                if (null !== $error) {
                    $errors[$key] = $error;
                    continue;
                }
                if ('wiremap' === $def['type']) {
                    // Only what changed: a name set or changed, `null` for a key left out.
                    $before = is_array($now[$key] ?? null) ? $now[$key] : [];
                    foreach ($value as $k => $v) {
                        if (($before[$k] ?? null) !== $v) {
                            $doc[$section][$k] = $v;
                        }
                    }
                    foreach (array_diff_key($before, $value) as $k => $unused) {
                        $doc[$section][$k] = null;
                    }
                    continue;
                }
                if ('secret' !== $def['type'] && self::display($def, $now[$key] ?? null) === self::display($def, $value)) {
                    continue;
                }
                $doc[$section][$name] = $value;
            }
        }
        return [$doc, $errors];
    }

    /**
     * Handles the host settings form: Save (PUT /settings) or Test connection (POST
     * /test-connection with the unsaved values).
     */
    public static function handleHostForm(): void
    {
        Plugin::guard(self::ACTION_HOST);
        Plugin::finish(self::processHostForm(wp_unslash($_POST)));
    }

    /**
     * The work of handleHostForm() after the guard; returns where to go next.
     *
     * @param array $post Unslashed POST data.
     */
    public static function processHostForm(array $post): string
    {
        $back = Plugin::pageUrl('settings');
        $client = HostClient::fromOptions();
        if (null === $client) {
            Plugin::flash(['notice' => __('Set the host URL and admin token first.', 'ml-connector'), 'level' => 'error']);
            return $back;
        }
        $submitted = isset($post['host']) && is_array($post['host']) ? $post['host'] : [];
        $test = isset($post['test']);
        $current = $client->get('/api/admin/settings');
        if (200 !== $current['status'] || !is_array($current['json'])) {
            Plugin::flash([
                /* translators: %s: error message */
                'notice' => sprintf(__('The host could not be read: %s', 'ml-connector'), (string) $current['error']),
                'level' => 'error',
            ]);
            return $back;
        }
        [$doc, $errors] = self::buildDocument($submitted, $current['json']);
        $values = self::submittedValues($submitted);
        if ($errors) {
            Plugin::flash(['notice' => __('Some fields are not valid; nothing was saved.', 'ml-connector'), 'level' => 'error', 'errors' => $errors, 'values' => $values]);
            return $back;
        }
        if ($test) {
            $answer = $client->request('POST', '/api/admin/test-connection', $doc, ['timeout' => 90]);
        } else {
            $answer = $client->request('PUT', '/api/admin/settings', $doc, ['timeout' => 60]);
        }
        if (422 === $answer['status'] && is_array($answer['json']['errors'] ?? null)) {
            Plugin::flash([
                'notice' => $test
                    ? __('The host refused these settings; nothing was tested.', 'ml-connector')
                    : __('The host refused these settings; nothing was saved.', 'ml-connector'),
                'level' => 'error',
                'errors' => array_map('strval', array_filter($answer['json']['errors'], 'is_string')),
                'values' => $values,
            ]);
            return $back;
        }
        if (200 !== $answer['status']) {
            /* translators: %s: error message */
            Plugin::flash(['notice' => sprintf(__('The host did not accept the request: %s', 'ml-connector'), (string) $answer['error']), 'level' => 'error', 'values' => $values]);
            return $back;
        }
        if ($test) {
            $verdicts = [];
            foreach (['x3' => 'Sage X3', 'woocommerce' => 'WooCommerce'] as $key => $name) {
                $part = $answer['json'][$key] ?? null;
                if (is_array($part)) {
                    $verdicts[$key] = ['name' => $name, 'ok' => !empty($part['ok']), 'message' => (string) ($part['message'] ?? '')];
                }
            }
            Plugin::flash([
                'notice' => __('Connection test finished (the settings were not saved).', 'ml-connector'),
                'level' => 'info',
                'test' => $verdicts,
                'values' => $values,
            ]);
            return $back;
        }
        self::refreshDeliveryUrl();
        // The notices must not repeat what the host said before these settings (a stale error).
        delete_transient(Status::CACHE);
        $count = count(self::flatten($doc));
        Plugin::flash([
            'notice' => 0 === $count
                ? __('Nothing changed.', 'ml-connector')
                /* translators: %d: number of settings */
                : sprintf(_n('%d setting saved on the host.', '%d settings saved on the host.', $count, 'ml-connector'), $count),
            'level' => 'success',
        ]);
        return $back;
    }

    /**
     * What the user typed (secrets left out), to show again after an error.
     *
     * @param array $submitted Form values.
     */
    private static function submittedValues(array $submitted): array
    {
        $values = [];
        foreach (self::fields() as $section => $defs) {
            foreach ($defs as $name => $def) {
                if ('_title' === $name || 'secret' === ($def['type'] ?? '')) {
                    continue;
                }
                if (isset($submitted[$section][$name]) && is_string($submitted[$section][$name])) {
                    $values[$section . '.' . $name] = $submitted[$section][$name];
                }
            }
        }
        return $values;
    }

    /**
     * The Settings tab: the options form, then the host settings form.
     */
    public static function renderPage(): void
    {
        echo '<form method="post" action="' . esc_url(admin_url('options.php')) . '" id="ml-connector-options">';
        settings_fields(self::GROUP);
        do_settings_sections(Plugin::SLUG);
        submit_button(__('Save connection', 'ml-connector'), 'primary', 'submit', true, ['id' => 'ml-connector-save-connection']);
        echo '</form>';

        $client = HostClient::fromOptions();
        echo '<h2>' . esc_html__('Connector settings (kept on the host)', 'ml-connector') . '</h2>';
        if (null === $client) {
            echo '<p>' . esc_html__('Save the host URL and admin token above to edit the connector\'s settings.', 'ml-connector') . '</p>';
            return;
        }
        $answer = $client->get('/api/admin/settings');
        if (200 !== $answer['status'] || !is_array($answer['json'])) {
            printf(
                '<div class="notice notice-error inline"><p>%s</p></div>',
                /* translators: 1: host URL, 2: error message */
                esc_html(sprintf(__('The host at %1$s could not be read: %2$s', 'ml-connector'), $client->baseUrl(), (string) $answer['error']))
            );
            return;
        }
        // The settings were read anyway: keep the delivery URL of the filters in step with them
        // (it may have been changed in the host's config file or from its command line).
        self::refreshDeliveryUrl($answer['json']);
        $flash = Plugin::takeFlash();
        $errors = is_array($flash['errors'] ?? null) ? $flash['errors'] : [];
        $typed = is_array($flash['values'] ?? null) ? $flash['values'] : [];
        $now = self::flatten($answer['json']);
        self::renderTestResult($flash);

        $known = [];
        echo '<form method="post" action="' . esc_url(admin_url('admin-post.php')) . '" id="ml-connector-host-form" novalidate>';
        Plugin::formFields(self::ACTION_HOST);
        foreach (self::fields() as $section => $defs) {
            $shown = array_filter(
                $defs,
                fn($def, $name) => '_title' !== $name && (empty($def['optional']) || array_key_exists($section . '.' . $name, $now)),
                ARRAY_FILTER_USE_BOTH
            );
            if (!$shown) {
                continue; // a section the host does not have (an older version): no empty heading.
            }
            echo '<h3>' . esc_html($defs['_title']) . '</h3><table class="form-table" role="presentation"><tbody>';
            foreach ($defs as $name => $def) {
                if ('_title' === $name) {
                    continue;
                }
                $key = $section . '.' . $name;
                if (!empty($def['optional']) && !array_key_exists($key, $now)) {
                    continue;
                }
                $known[$key] = true;
                $error = $errors[$key] ?? null;
                if ('wiremap' === $def['type']) {
                    // The host names the key it refused (`x3-wire.rest.order.klass`).
                    $mine = array_filter($errors, fn($f) => 0 === strpos((string) $f, $section . '.'), ARRAY_FILTER_USE_KEY);
                    foreach (array_keys($mine) as $f) {
                        $known[$f] = true;
                    }
                    if ($mine) {
                        $error = implode('; ', array_map(
                            fn($f, $m) => substr((string) $f, strlen($section) + 1) . ': ' . $m,
                            array_keys($mine),
                            $mine
                        ));
                    }
                }
                $value = array_key_exists($key, $typed) ? (string) $typed[$key] : self::display($def, $now[$key] ?? null);
                self::renderField($section, $name, $def, $value, $now[$key] ?? null, $error);
            }
            echo '</tbody></table>';
        }
        $other = array_diff_key($errors, $known);
        if ($other) {
            echo '<div class="notice notice-error inline" id="ml-connector-other-errors"><ul>';
            foreach ($other as $field => $message) {
                printf('<li><code>%s</code>: %s</li>', esc_html((string) $field), esc_html((string) $message));
            }
            echo '</ul></div>';
        }
        echo '<p class="submit">';
        submit_button(__('Save settings', 'ml-connector'), 'primary', 'save', false, ['id' => 'ml-connector-save-host']);
        echo ' ';
        submit_button(__('Test connection', 'ml-connector'), 'secondary', 'test', false, ['id' => 'ml-connector-test']);
        echo '</p><p class="description">' . esc_html__('Test connection tries the values in this form without saving them.', 'ml-connector') . '</p></form>';
    }

    /**
     * One row of the host settings form, with the host's error for it.
     *
     * @param string      $section Section.
     * @param string      $name    Field.
     * @param array       $def     Definition.
     * @param string      $value   Value to show.
     * @param mixed       $raw     The host's value (for secrets: `{"set": …}`).
     * @param string|null $error   Error message.
     */
    private static function renderField(string $section, string $name, array $def, string $value, $raw, ?string $error): void
    {
        $id = 'mlc-' . $section . '-' . $name;
        $input = sprintf('host[%s][%s]', $section, $name);
        $described = $error ? ' aria-invalid="true" aria-describedby="' . esc_attr($id . '-error') . '"' : '';
        echo '<tr><th scope="row"><label for="' . esc_attr($id) . '">' . esc_html($def['label']) . '</label></th><td>';
        switch ($def['type']) {
            case 'select':
                printf('<select id="%s" name="%s"%s>', esc_attr($id), esc_attr($input), $described); // phpcs:ignore -- $described is built from esc_attr() above.
                foreach ($def['options'] as $option => $label) {
                    printf('<option value="%s"%s>%s</option>', esc_attr($option), selected($value, $option, false), esc_html($label));
                }
                echo '</select>';
                break;
            case 'bool':
                printf('<select id="%s" name="%s"%s>', esc_attr($id), esc_attr($input), $described); // phpcs:ignore -- $described is built from esc_attr() above.
                foreach (['true' => __('Yes', 'ml-connector'), 'false' => __('No', 'ml-connector')] as $option => $label) {
                    printf('<option value="%s"%s>%s</option>', esc_attr($option), selected($value, $option, false), esc_html($label));
                }
                echo '</select>';
                break;
            case 'statusmap':
                printf('<textarea id="%s" name="%s" rows="7" cols="40" class="code"%s>%s</textarea>', esc_attr($id), esc_attr($input), $described, esc_textarea($value)); // phpcs:ignore
                break;
            case 'wiremap':
                printf('<textarea id="%s" name="%s" rows="5" cols="60" class="large-text code"%s>%s</textarea>', esc_attr($id), esc_attr($input), $described, esc_textarea($value)); // phpcs:ignore
                break;
            case 'secret':
                $set = is_array($raw) && !empty($raw['set']);
                printf(
                    '<input type="password" id="%s" name="%s" value="" autocomplete="new-password" class="regular-text" placeholder="%s"%s>',
                    esc_attr($id),
                    esc_attr($input),
                    esc_attr($set ? __('stored — leave empty to keep', 'ml-connector') : __('not set', 'ml-connector')),
                    $described // phpcs:ignore
                );
                break;
            default:
                // URLs get the whole width: a delivery URL was cut at the field's end.
                printf(
                    '<input type="%s" id="%s" name="%s" value="%s" class="%s"%s>',
                    'int' === $def['type'] ? 'number' : 'text',
                    esc_attr($id),
                    esc_attr($input),
                    esc_attr($value),
                    'url' === $def['type'] || mb_strlen($value) > 40 ? 'large-text' : 'regular-text',
                    $described // phpcs:ignore
                );
        }
        if (!empty($def['help'])) {
            echo '<p class="description">' . esc_html($def['help']) . '</p>';
        }
        if (null !== $error) {
            printf('<p class="ml-connector-field-error" id="%s" role="alert">%s</p>', esc_attr($id . '-error'), esc_html($error));
        }
        echo '</td></tr>';
    }

    /**
     * The verdicts of a connection test.
     *
     * @param array $flash Flashed data.
     */
    private static function renderTestResult(array $flash): void
    {
        if (empty($flash['test']) || !is_array($flash['test'])) {
            return;
        }
        echo '<div id="ml-connector-test-result" class="ml-connector-test">';
        foreach ($flash['test'] as $key => $verdict) {
            printf(
                '<div class="notice inline notice-%s" id="ml-connector-test-%s"><p><strong>%s: %s</strong> %s</p></div>',
                $verdict['ok'] ? 'success' : 'error',
                esc_attr((string) $key),
                esc_html((string) $verdict['name']),
                esc_html($verdict['ok'] ? __('OK', 'ml-connector') : __('failed', 'ml-connector')),
                esc_html((string) $verdict['message'])
            );
        }
        echo '</div>';
    }
}
