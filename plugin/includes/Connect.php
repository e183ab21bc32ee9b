<?php

/**
 * Connect the store in one click: a WooCommerce REST API key for the host, handed to it, then
 * the host registers its webhooks.
 *
 * The key is made the way WooCommerce makes its own (WC_Auth::create_keys(), the "Add key"
 * screen): `ck_`/`cs_` + wc_rand_hash(), the consumer key stored as wc_api_hash(), a row in
 * `{prefix}woocommerce_api_keys` with the last 7 characters as `truncated_key`. WooCommerce
 * has no public PHP function that creates a key, so the row is written with the same columns.
 *
 * @package MLConnector
 */

namespace MLConnector;

if (!defined('ABSPATH')) {
    exit;
}

/**
 * The "Connect the store" section and its action.
 */
class Connect
{
    public const ACTION = 'ml_connector_connect_store';

    /**
     * Hooks.
     */
    public static function boot(): void
    {
        add_action('admin_post_' . self::ACTION, [self::class, 'handle']);
    }

    /**
     * Whether WooCommerce is active with the functions the key creation needs; else what is
     * missing, in words.
     */
    public static function missing(): ?string
    {
        if (!class_exists('WooCommerce')) {
            return __('WooCommerce is not active on this site. Connecting the store creates a WooCommerce REST API key for the host and registers the order webhooks, so WooCommerce must be installed and activated first (Plugins → Add New → WooCommerce). Until then, the host can still be configured by hand: enter a consumer key and secret made in WooCommerce → Settings → Advanced → REST API in the Store fields above.', 'ml-connector');
        }
        if (!function_exists('wc_rand_hash') || !function_exists('wc_api_hash')) {
            return __('This WooCommerce version does not provide wc_rand_hash() and wc_api_hash(); create a key in WooCommerce → Settings → Advanced → REST API and enter it in the Store fields above.', 'ml-connector');
        }
        return null;
    }

    /**
     * The section on the Settings tab.
     */
    public static function renderSection(): void
    {
        echo '<h2 id="ml-connector-connect">' . esc_html__('Connect the store', 'ml-connector') . '</h2>';
        $missing = self::missing();
        if (null !== $missing) {
            echo '<div class="notice notice-warning inline" id="ml-connector-woocommerce-missing"><p>' . esc_html($missing) . '</p></div>';
            return;
        }
        if (null === HostClient::fromOptions()) {
            echo '<p>' . esc_html__('Save the host URL and admin token first.', 'ml-connector') . '</p>';
            return;
        }
        $users = get_users(['capability' => 'manage_woocommerce', 'fields' => ['ID', 'user_login']]);
        echo '<p>' . esc_html__('Creates a read/write REST API key owned by the chosen administrator, gives it to the host, and asks the host to create or repair its order webhooks.', 'ml-connector') . '</p>';
        echo '<form method="post" action="' . esc_url(admin_url('admin-post.php')) . '" id="ml-connector-connect-form">';
        Plugin::formFields(self::ACTION);
        echo '<label for="ml-connector-key-user">' . esc_html__('Key owner', 'ml-connector') . '</label> <select id="ml-connector-key-user" name="user_id">';
        foreach ($users as $user) {
            printf('<option value="%d"%s>%s</option>', (int) $user->ID, selected((int) $user->ID, get_current_user_id(), false), esc_html($user->user_login));
        }
        echo '</select> ';
        submit_button(__('Connect the store', 'ml-connector'), 'primary', 'connect', false);
        echo '</form>';
    }

    /**
     * The action.
     */
    public static function handle(): void
    {
        Plugin::guard(self::ACTION);
        Plugin::finish(self::process(wp_unslash($_POST)));
    }

    /**
     * Work after the guard; returns where to go.
     *
     * @param array $post Unslashed POST data.
     */
    public static function process(array $post): string
    {
        $back = Plugin::pageUrl('settings');
        $missing = self::missing();
        if (null !== $missing) {
            Plugin::flash(['notice' => $missing, 'level' => 'error']);
            return $back;
        }
        $client = HostClient::fromOptions();
        if (null === $client) {
            Plugin::flash(['notice' => __('Set the host URL and admin token first.', 'ml-connector'), 'level' => 'error']);
            return $back;
        }
        $userId = isset($post['user_id']) ? absint($post['user_id']) : 0;
        if (!$userId || !user_can($userId, 'manage_woocommerce')) {
            Plugin::flash(['notice' => __('Choose an administrator who can manage WooCommerce as the key owner.', 'ml-connector'), 'level' => 'error']);
            return $back;
        }
        $key = self::createKey($userId);
        if (null === $key) {
            Plugin::flash(['notice' => __('WooCommerce\'s API key table could not be written.', 'ml-connector'), 'level' => 'error']);
            return $back;
        }
        $answer = $client->request('PUT', '/api/admin/settings', [
            'woocommerce' => [
                'url' => home_url('/'),
                'consumer-key' => $key['consumer_key'],
                'consumer-secret' => $key['consumer_secret'],
            ],
        ], ['timeout' => 60]);
        if (200 !== $answer['status']) {
            self::deleteKey($key['key_id']);
            $detail = 422 === $answer['status'] && is_array($answer['json']['errors'] ?? null)
                ? implode('; ', array_map('strval', array_filter($answer['json']['errors'], 'is_string')))
                : (string) $answer['error'];
            /* translators: %s: error message */
            Plugin::flash(['notice' => sprintf(__('The host did not take the key (it was deleted again): %s', 'ml-connector'), $detail), 'level' => 'error']);
            return $back;
        }
        // The host uses the new key from now on: the keys earlier connections made are revoked
        // (re-connecting piled them up).
        $revoked = self::revokeOtherKeys($key['key_id']);
        $lead = 0 === $revoked
            ? __('Store connected.', 'ml-connector')
            /* translators: %d: number of API keys */
            : sprintf(_n('Store connected; %d older key made by this plugin was revoked.', 'Store connected; %d older keys made by this plugin were revoked.', $revoked, 'ml-connector'), $revoked);
        Plugin::flash(self::registerWebhooks($client, $lead));
        // The notices' cache still holds what the host said with the old keys ("Consumer key is
        // invalid"): it is read again on the next page.
        delete_transient(Status::CACHE);
        return $back;
    }

    /** The description every key this plugin makes starts with (createKey()). */
    public const KEY_DESCRIPTION = 'ml-connector - API (';

    /**
     * Deletes the REST API keys this plugin made, except $keepId; returns how many. A key is
     * recognised by its description (`ml-connector - API (date)`, what createKey() writes); keys
     * made by hand under another description are never touched.
     *
     * @param int $keepId The key in use now.
     */
    public static function revokeOtherKeys(int $keepId): int
    {
        global $wpdb;
        $table = $wpdb->prefix . 'woocommerce_api_keys';
        $ids = $wpdb->get_col($wpdb->prepare(
            "SELECT key_id FROM {$table} WHERE description LIKE %s AND key_id <> %d",
            $wpdb->esc_like(self::KEY_DESCRIPTION) . '%',
            $keepId
        ));
        $revoked = 0;
        foreach ((array) $ids as $id) {
            $revoked += (int) $wpdb->delete($table, ['key_id' => (int) $id], ['%d']);
        }
        return $revoked;
    }

    /**
     * Asks the host to create or repair its webhooks (`POST /api/admin/webhooks/register`);
     * returns the flash data saying how it went.
     *
     * @param HostClient $client Host.
     * @param string     $prefix Sentence before the outcome.
     */
    public static function registerWebhooks(HostClient $client, string $prefix = ''): array
    {
        $register = $client->request('POST', '/api/admin/webhooks/register', [], ['timeout' => 90]);
        Settings::refreshDeliveryUrl();
        $lead = '' === $prefix ? '' : $prefix . ' ';
        if (404 === $register['status']) {
            return ['notice' => $lead . __('This host version cannot register webhooks itself: update it, or run `ml-connector webhooks register` on the host.', 'ml-connector'), 'level' => 'warning'];
        }
        if (200 !== $register['status']) {
            $detail = is_array($register['json']['errors'] ?? null)
                ? implode('; ', array_map('strval', array_filter($register['json']['errors'], 'is_string')))
                : (string) $register['error'];
            /* translators: %s: error message */
            return ['notice' => $lead . sprintf(__('Registering the webhooks failed: %s', 'ml-connector'), $detail), 'level' => 'error'];
        }
        $hooks = is_array($register['json']['webhooks'] ?? null) ? $register['json']['webhooks'] : [];
        $topics = [];
        foreach ($hooks as $hook) {
            if (is_array($hook)) {
                $topics[] = sprintf('%s (%s)', (string) ($hook['topic'] ?? '?'), (string) ($hook['action'] ?? $hook['status'] ?? ''));
            }
        }
        /* translators: %s: list of webhooks */
        return ['notice' => $lead . sprintf(__('Webhooks: %s', 'ml-connector'), implode(', ', $topics)), 'level' => 'success'];
    }

    /**
     * A read/write key owned by $userId, made as WooCommerce makes its keys.
     *
     * @param int $userId Owner.
     * @return array{key_id:int,consumer_key:string,consumer_secret:string}|null
     */
    public static function createKey(int $userId): ?array
    {
        global $wpdb;
        $consumerKey = 'ck_' . wc_rand_hash();
        $consumerSecret = 'cs_' . wc_rand_hash();
        $ok = $wpdb->insert(
            $wpdb->prefix . 'woocommerce_api_keys',
            [
                'user_id' => $userId,
                'description' => self::KEY_DESCRIPTION . gmdate('Y-m-d H:i:s') . ')',
                'permissions' => 'read_write',
                'consumer_key' => wc_api_hash($consumerKey),
                'consumer_secret' => $consumerSecret,
                'truncated_key' => substr($consumerKey, -7),
            ],
            ['%d', '%s', '%s', '%s', '%s', '%s']
        );
        if (false === $ok) {
            return null;
        }
        return ['key_id' => (int) $wpdb->insert_id, 'consumer_key' => $consumerKey, 'consumer_secret' => $consumerSecret];
    }

    /**
     * Removes a key this plugin just made.
     *
     * @param int $keyId Key id.
     */
    private static function deleteKey(int $keyId): void
    {
        global $wpdb;
        $wpdb->delete($wpdb->prefix . 'woocommerce_api_keys', ['key_id' => $keyId], ['%d']);
    }
}
