<?php

/**
 * Wiring: the admin page with its tabs, the capability, nonces, and the one-shot messages a
 * form handler leaves for the page it redirects to.
 *
 * @package MLConnector
 */

namespace MLConnector;

if (!defined('ABSPATH')) {
    exit;
}

/**
 * Entry point and shared helpers.
 */
class Plugin
{
    /** Admin page slug (also the text domain and the plugin slug). */
    public const SLUG = 'ml-connector';

    /** Prefix of the per-user transient that carries a form's outcome to the next page. */
    public const FLASH = 'ml_connector_flash_';

    /** @var array|null What takeFlash() took in this request. */
    private static $taken = null;

    /**
     * Hooks everything up.
     */
    public static function boot(): void
    {
        add_action('init', [self::class, 'loadTextDomain']);
        add_action('admin_menu', [self::class, 'menu']);
        add_action('admin_enqueue_scripts', [self::class, 'assets']);
        add_filter('plugin_action_links_' . plugin_basename(ML_CONNECTOR_FILE), [self::class, 'actionLinks']);
        // options.php checks this capability (default manage_options) before saving the host URL
        // and token: without the filter, a lowered ml_connector_capability could open the page
        // but not save it.
        add_filter('option_page_capability_' . Settings::GROUP, [self::class, 'capability']);
        add_action('before_woocommerce_init', [self::class, 'declareWooCommerceCompatibility']);
        Settings::boot();
        DeliveryFilters::boot();
        Connect::boot();
        Mapping::boot();
        Status::boot();
    }

    /**
     * Translations under languages/.
     */
    public static function loadTextDomain(): void
    {
        load_plugin_textdomain('ml-connector', false, dirname(plugin_basename(ML_CONNECTOR_FILE)) . '/languages');
    }

    /**
     * The capability every screen and action requires (filter `ml_connector_capability`).
     */
    public static function capability(): string
    {
        return (string) apply_filters('ml_connector_capability', 'manage_options');
    }

    /**
     * Tells WooCommerce which of its features the plugin works with: High-Performance Order
     * Storage (custom order tables). The plugin never reads orders from WordPress's posts — the
     * host reads them through the REST API — so it works with either storage.
     */
    public static function declareWooCommerceCompatibility(): void
    {
        if (class_exists(\Automattic\WooCommerce\Utilities\FeaturesUtil::class)) {
            \Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility('custom_order_tables', ML_CONNECTOR_FILE, true);
        }
    }

    /**
     * Under WooCommerce when it is active, under Settings otherwise.
     */
    public static function parentSlug(): string
    {
        return class_exists('WooCommerce') ? 'woocommerce' : 'options-general.php';
    }

    /**
     * Registers the admin page.
     */
    public static function menu(): void
    {
        add_submenu_page(
            self::parentSlug(),
            __('ml-connector: WooCommerce ⇄ Sage X3', 'ml-connector'),
            __('X3 Connector', 'ml-connector'),
            self::capability(),
            self::SLUG,
            [self::class, 'render']
        );
    }

    /**
     * A "Settings" link on the Plugins screen.
     *
     * @param array $links Links WordPress shows under the plugin's name.
     */
    public static function actionLinks($links): array
    {
        $links = is_array($links) ? $links : [];
        array_unshift($links, sprintf('<a href="%s">%s</a>', esc_url(self::pageUrl('settings')), esc_html__('Settings', 'ml-connector')));
        return $links;
    }

    /**
     * The admin page's URL for a tab.
     *
     * @param string $tab  settings, mapping, coverage or status.
     * @param array  $args More query arguments.
     */
    public static function pageUrl(string $tab = 'settings', array $args = []): string
    {
        $base = 'options-general.php' === self::parentSlug() ? 'options-general.php' : 'admin.php';
        return add_query_arg(array_merge(['page' => self::SLUG, 'tab' => $tab], $args), admin_url($base));
    }

    /**
     * Stylesheet on our page only.
     *
     * @param string $hook Current admin page hook.
     */
    public static function assets(string $hook): void
    {
        if (false === strpos($hook, self::SLUG)) {
            return;
        }
        wp_enqueue_style(
            'ml-connector-admin',
            plugins_url('assets/admin.css', ML_CONNECTOR_FILE),
            [],
            ML_CONNECTOR_VERSION
        );
        // Rows added in place, the product picker's key type, the status frame's height; every
        // screen works without it.
        wp_enqueue_script(
            'ml-connector-admin',
            plugins_url('assets/admin.js', ML_CONNECTOR_FILE),
            [],
            ML_CONNECTOR_VERSION,
            true
        );
    }

    /**
     * The current tab.
     */
    public static function currentTab(): string
    {
        // phpcs:ignore -- reading which tab to show changes nothing.
        $tab = isset($_GET['tab']) ? sanitize_key(wp_unslash($_GET['tab'])) : 'settings';
        return in_array($tab, ['settings', 'mapping', 'coverage', 'status'], true) ? $tab : 'settings';
    }

    /**
     * Renders the page: tabs, then the tab's content.
     */
    public static function render(): void
    {
        if (!current_user_can(self::capability())) {
            wp_die(esc_html__('You are not allowed to manage the connector.', 'ml-connector'), '', ['response' => 403]);
        }
        $tab = self::currentTab();
        $tabs = [
            'settings' => __('Settings', 'ml-connector'),
            'mapping' => __('Mapping', 'ml-connector'),
            'coverage' => __('Coverage', 'ml-connector'),
            'status' => __('Status', 'ml-connector'),
        ];
        echo '<div class="wrap ml-connector">';
        echo '<h1>' . esc_html__('ml-connector: WooCommerce ⇄ Sage X3', 'ml-connector') . '</h1>';
        if ('options-general.php' !== self::parentSlug()) {
            settings_errors();
        }
        echo '<nav class="nav-tab-wrapper">';
        foreach ($tabs as $key => $label) {
            printf(
                '<a href="%s" class="nav-tab%s" id="ml-connector-tab-%s">%s</a>',
                esc_url(self::pageUrl($key)),
                $key === $tab ? ' nav-tab-active' : '',
                esc_attr($key),
                esc_html($label)
            );
        }
        echo '</nav>';
        self::renderFlash();
        switch ($tab) {
            case 'mapping':
                Mapping::renderTable();
                break;
            case 'coverage':
                Mapping::renderCoverage();
                break;
            case 'status':
                Status::renderPage();
                break;
            default:
                Settings::renderPage();
                Connect::renderSection();
        }
        echo '</div>';
    }

    /**
     * Stops unless the current user has the capability and the request carries a valid nonce
     * for the action. Both failures end in wp_die() (403), nothing is changed.
     *
     * @param string $action Nonce action, also the admin-post action name.
     */
    public static function guard(string $action): void
    {
        if (!current_user_can(self::capability())) {
            wp_die(esc_html__('You are not allowed to manage the connector.', 'ml-connector'), '', ['response' => 403]);
        }
        check_admin_referer($action);
    }

    /**
     * Redirects and ends the request (a form handler's last step).
     *
     * @param string $url Where to.
     */
    public static function finish(string $url): void
    {
        wp_safe_redirect($url);
        exit;
    }

    /**
     * Leaves data for the next page this user sees.
     *
     * @param array $data notice (string), level (success|error|warning|info), and any tab data.
     */
    public static function flash(array $data): void
    {
        set_transient(self::FLASH . get_current_user_id(), $data, 5 * MINUTE_IN_SECONDS);
    }

    /**
     * Takes what flash() left, once.
     */
    public static function takeFlash(): array
    {
        if (null === self::$taken) {
            $key = self::FLASH . get_current_user_id();
            $value = get_transient($key);
            delete_transient($key);
            self::$taken = is_array($value) ? $value : [];
        }
        return self::$taken;
    }

    /**
     * Shows the flashed notice, if any.
     */
    private static function renderFlash(): void
    {
        $flash = self::takeFlash();
        if (empty($flash['notice'])) {
            return;
        }
        $level = in_array($flash['level'] ?? '', ['success', 'error', 'warning', 'info'], true)
            ? $flash['level'] : 'info';
        printf(
            '<div class="notice notice-%s ml-connector-result" id="ml-connector-result"><p>%s</p></div>',
            esc_attr($level),
            esc_html($flash['notice'])
        );
    }

    /**
     * A hidden input naming the admin-post action, plus the nonce for it.
     *
     * @param string $action Action name.
     */
    public static function formFields(string $action): void
    {
        printf('<input type="hidden" name="action" value="%s">', esc_attr($action));
        wp_nonce_field($action);
    }
}
