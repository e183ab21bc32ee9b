<?php

/**
 * Status: the host's status page embedded through a server-side proxy (the browser talks only to
 * WordPress), replay and hold release through the admin API, and an admin notice on every admin
 * page when the host is unreachable, a webhook is disabled, or orders need attention.
 *
 * @package MLConnector
 */

namespace MLConnector;

if (!defined('ABSPATH')) {
    exit;
}

/**
 * Status tab, frame proxy, actions, notices.
 */
class Status
{
    public const ACTION_FRAME = 'ml_connector_status_frame';
    public const ACTION_REPLAY = 'ml_connector_replay';
    public const ACTION_RELEASE = 'ml_connector_release';
    public const ACTION_WEBHOOKS = 'ml_connector_webhooks_register';
    public const ACTION_BACKFILL = 'ml_connector_backfill';
    public const ACTION_ROTATE = 'ml_connector_rotate_secret';
    public const ACTION_FINISH_ROTATION = 'ml_connector_finish_rotation';
    /** Cache of /api/status for the notices (seconds). */
    public const CACHE = 'ml_connector_status_cache';
    public const CACHE_TTL = 60;

    /**
     * Hooks.
     */
    public static function boot(): void
    {
        add_action('admin_post_' . self::ACTION_FRAME, [self::class, 'handleFrame']);
        add_action('admin_post_' . self::ACTION_REPLAY, [self::class, 'handleReplay']);
        add_action('admin_post_' . self::ACTION_RELEASE, [self::class, 'handleRelease']);
        add_action('admin_post_' . self::ACTION_WEBHOOKS, [self::class, 'handleWebhooks']);
        add_action('admin_post_' . self::ACTION_BACKFILL, [self::class, 'handleBackfill']);
        add_action('admin_post_' . self::ACTION_ROTATE, [self::class, 'handleRotate']);
        add_action('admin_post_' . self::ACTION_FINISH_ROTATION, [self::class, 'handleFinishRotation']);
        add_action('admin_notices', [self::class, 'notices']);
    }

    /**
     * The frame URL for the status page or one order's page.
     *
     * @param int $order Order id, 0 for the overview.
     */
    public static function frameUrl(int $order = 0): string
    {
        $args = ['action' => self::ACTION_FRAME];
        if ($order > 0) {
            $args['order'] = $order;
        }
        return wp_nonce_url(add_query_arg($args, admin_url('admin-post.php')), self::ACTION_FRAME);
    }

    /**
     * Serves the host's /status (or /status/orders/N) from WordPress, links rewritten to stay in
     * the proxy. The host's HTML escapes what it shows and has no script; this answer forbids
     * scripts too.
     */
    public static function handleFrame(): void
    {
        Plugin::guard(self::ACTION_FRAME);
        // phpcs:ignore -- nonce checked by guard().
        $order = isset($_GET['order']) ? absint($_GET['order']) : 0;
        [$status, $html] = self::frame($order);
        status_header($status);
        nocache_headers();
        header('Content-Type: text/html; charset=utf-8');
        header("Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'");
        header('X-Frame-Options: SAMEORIGIN');
        header('X-Content-Type-Options: nosniff');
        header('Referrer-Policy: no-referrer');
        echo $html; // phpcs:ignore -- the host's own escaped HTML, served under a no-script CSP.
        exit;
    }

    /**
     * The page to show in the frame: [HTTP status, HTML].
     *
     * @param int $order Order id or 0.
     * @return array{0:int,1:string}
     */
    public static function frame(int $order): array
    {
        $client = HostClient::fromOptions();
        if (null === $client) {
            return [200, self::errorPage(__('The host URL and admin token are not set.', 'ml-connector'))];
        }
        $path = $order > 0 ? '/status/orders/' . $order : '/status';
        // The host's pages need a token (they show shoppers' data): the admin token, server side.
        $answer = $client->request('GET', $path, null, ['accept' => 'text/html', 'timeout' => 10]);
        if (0 === $answer['status']) {
            /* translators: %s: error message */
            return [502, self::errorPage(sprintf(__('The host cannot be reached: %s', 'ml-connector'), (string) $answer['error']))];
        }
        return [200 === $answer['status'] ? 200 : $answer['status'], self::rewriteLinks($answer['body'])];
    }

    /**
     * `/status` and `/status/orders/N` links → the proxy; other host-relative links are dropped
     * (they would point at WordPress).
     *
     * @param string $html Host HTML.
     */
    public static function rewriteLinks(string $html): string
    {
        return (string) preg_replace_callback(
            '/href="(\/[^"]*)"/',
            static function (array $m): string {
                if ('/status' === $m[1]) {
                    return 'href="' . esc_url(self::frameUrl()) . '"';
                }
                if (preg_match('#^/status/orders/(\d+)$#', $m[1], $o)) {
                    return 'href="' . esc_url(self::frameUrl((int) $o[1])) . '"';
                }
                return 'href="#"';
            },
            $html
        );
    }

    /**
     * A minimal page for the frame when there is nothing to proxy.
     *
     * @param string $message Message.
     */
    private static function errorPage(string $message): string
    {
        return '<!DOCTYPE html><html><head><meta charset="utf-8"><title>ml-connector</title></head><body style="font:14px sans-serif"><p id="error">'
            . esc_html($message) . '</p></body></html>';
    }

    /**
     * Replay: `orders` (ids, comma- or space-separated) or `state`.
     */
    public static function handleReplay(): void
    {
        Plugin::guard(self::ACTION_REPLAY);
        Plugin::finish(self::processReplay(wp_unslash($_POST)));
    }

    /**
     * Work after the guard.
     *
     * @param array $post Unslashed POST data.
     */
    public static function processReplay(array $post): string
    {
        $body = [];
        if (isset($post['state']) && is_string($post['state']) && '' !== $post['state']) {
            $body['state'] = sanitize_key($post['state']);
        } else {
            $body['orders'] = self::ids(isset($post['orders']) && is_string($post['orders']) ? $post['orders'] : '');
        }
        return self::post('/api/admin/orders/replay', $body, static function (array $json): string {
            /* translators: %d: number of orders */
            return sprintf(__('Orders queued again: %d.', 'ml-connector'), (int) ($json['requeued'] ?? 0));
        });
    }

    /**
     * Release holds: all, or the listed ones.
     */
    public static function handleRelease(): void
    {
        Plugin::guard(self::ACTION_RELEASE);
        Plugin::finish(self::processRelease(wp_unslash($_POST)));
    }

    /**
     * Work after the guard.
     *
     * @param array $post Unslashed POST data.
     */
    public static function processRelease(array $post): string
    {
        $ids = self::ids(isset($post['orders']) && is_string($post['orders']) ? $post['orders'] : '');
        return self::post('/api/admin/holds/release', $ids ? ['orders' => $ids] : [], static function (array $json): string {
            /* translators: %d: number of orders */
            return sprintf(__('Held orders released: %d.', 'ml-connector'), (int) ($json['released'] ?? 0));
        });
    }

    /**
     * Register or repair the store's webhooks (after one was disabled, or the URL changed).
     */
    public static function handleWebhooks(): void
    {
        Plugin::guard(self::ACTION_WEBHOOKS);
        Plugin::finish(self::processWebhooks());
    }

    /**
     * Work after the guard.
     */
    public static function processWebhooks(): string
    {
        $client = HostClient::fromOptions();
        if (null === $client) {
            Plugin::flash(['notice' => __('Set the host URL and admin token first.', 'ml-connector'), 'level' => 'error']);
        } else {
            Plugin::flash(Connect::registerWebhooks($client));
            delete_transient(self::CACHE);
        }
        return Plugin::pageUrl('status');
    }

    /**
     * Rotate the webhook secret: a new random secret for the host (which keeps accepting the
     * old one during the rotation), then the store's webhooks are registered again with it.
     */
    public static function handleRotate(): void
    {
        Plugin::guard(self::ACTION_ROTATE);
        Plugin::finish(self::processRotate());
    }

    /**
     * Work after the guard.
     */
    public static function processRotate(): string
    {
        $back = Plugin::pageUrl('status');
        $client = HostClient::fromOptions();
        if (null === $client) {
            Plugin::flash(['notice' => __('Set the host URL and admin token first.', 'ml-connector'), 'level' => 'error']);
            return $back;
        }
        // 48 letters and digits: no character WooCommerce's secret field or HTML entities change.
        $secret = wp_generate_password(48, false, false);
        $answer = $client->request('PUT', '/api/admin/settings', ['woocommerce' => ['webhook-secret' => $secret]], ['timeout' => 60]);
        delete_transient(self::CACHE);
        if (200 !== $answer['status']) {
            $detail = 422 === $answer['status'] && is_array($answer['json']['errors'] ?? null)
                ? implode('; ', array_map('strval', array_filter($answer['json']['errors'], 'is_string')))
                : (string) $answer['error'];
            /* translators: %s: error message */
            Plugin::flash(['notice' => sprintf(__('The webhook secret was not changed: %s', 'ml-connector'), $detail), 'level' => 'error']);
            return $back;
        }
        Plugin::flash(Connect::registerWebhooks($client, __('New webhook secret in force; deliveries signed with the previous one are still accepted until you finish the rotation.', 'ml-connector')));
        return $back;
    }

    /**
     * Finish the rotation: only the new secret is accepted from now on.
     */
    public static function handleFinishRotation(): void
    {
        Plugin::guard(self::ACTION_FINISH_ROTATION);
        Plugin::finish(self::processFinishRotation());
    }

    /**
     * Work after the guard.
     */
    public static function processFinishRotation(): string
    {
        $back = Plugin::pageUrl('status');
        $client = HostClient::fromOptions();
        if (null === $client) {
            Plugin::flash(['notice' => __('Set the host URL and admin token first.', 'ml-connector'), 'level' => 'error']);
            return $back;
        }
        $answer = $client->request('PUT', '/api/admin/settings', ['woocommerce' => ['webhook-secret-previous' => null]], ['timeout' => 60]);
        delete_transient(self::CACHE);
        if (200 === $answer['status']) {
            Plugin::flash(['notice' => __('Rotation finished: only the new webhook secret is accepted.', 'ml-connector'), 'level' => 'success']);
        } else {
            /* translators: %s: error message */
            Plugin::flash(['notice' => sprintf(__('The host did not do it: %s', 'ml-connector'), (string) $answer['error']), 'level' => 'error']);
        }
        return $back;
    }

    /**
     * Catch up: the host reads every order modified since a date from WooCommerce and takes in
     * what the webhooks did not bring (`POST /api/admin/backfill`, issue 6).
     */
    public static function handleBackfill(): void
    {
        Plugin::guard(self::ACTION_BACKFILL);
        Plugin::finish(self::processBackfill(wp_unslash($_POST)));
    }

    /**
     * Work after the guard.
     *
     * @param array $post Unslashed POST data: `since` as YYYY-MM-DD (UTC midnight).
     */
    public static function processBackfill(array $post): string
    {
        $back = Plugin::pageUrl('status');
        $since = isset($post['since']) && is_string($post['since']) ? trim($post['since']) : '';
        $date = \DateTimeImmutable::createFromFormat('!Y-m-d', $since, new \DateTimeZone('UTC'));
        if (false === $date || $date->format('Y-m-d') !== $since) {
            Plugin::flash(['notice' => __('Give the date to catch up from as YYYY-MM-DD.', 'ml-connector'), 'level' => 'error']);
            return $back;
        }
        $client = HostClient::fromOptions();
        if (null === $client) {
            Plugin::flash(['notice' => __('Set the host URL and admin token first.', 'ml-connector'), 'level' => 'error']);
            return $back;
        }
        $answer = $client->request('POST', '/api/admin/backfill', ['since' => $date->format('Y-m-d\TH:i:s\Z')], ['timeout' => 30]);
        if (in_array($answer['status'], [200, 202], true)) {
            /* translators: %s: date */
            Plugin::flash(['notice' => sprintf(__('Catch-up started: the host reads every order modified since %s (UTC) and takes in what is missing. Nothing is posted twice.', 'ml-connector'), $since), 'level' => 'success']);
        } elseif (404 === $answer['status']) {
            Plugin::flash(['notice' => __('This host version cannot catch up by itself: update it, or run `ml-connector backfill --since` on the host.', 'ml-connector'), 'level' => 'warning']);
        } elseif (422 === $answer['status'] && is_array($answer['json']['errors'] ?? null)) {
            Plugin::flash(['notice' => implode('; ', array_map('strval', array_filter($answer['json']['errors'], 'is_string'))), 'level' => 'error']);
        } else {
            /* translators: %s: error message */
            Plugin::flash(['notice' => sprintf(__('The host did not do it: %s', 'ml-connector'), (string) $answer['error']), 'level' => 'error']);
        }
        return $back;
    }

    /**
     * The store's webhooks as the host sees them (`GET /api/admin/webhooks`), with a button to
     * register or repair them.
     *
     * @param HostClient $client Host.
     */
    private static function renderWebhooks(HostClient $client, ?array $status = null): void
    {
        echo '<h2>' . esc_html__('Webhooks', 'ml-connector') . '</h2>';
        $answer = $client->request('GET', '/api/admin/webhooks', null, ['timeout' => 10]);
        if (404 === $answer['status']) {
            echo '<p id="ml-connector-webhooks-unsupported">' . esc_html__('This host version does not report the store\'s webhooks; check them in WooCommerce → Settings → Advanced → Webhooks.', 'ml-connector') . '</p>';
        } elseif (200 !== $answer['status'] || !is_array($answer['json'])) {
            /* translators: %s: error message */
            echo '<div class="notice notice-error inline"><p>' . esc_html(sprintf(__('The webhooks could not be read: %s', 'ml-connector'), (string) $answer['error'])) . '</p></div>';
        } else {
            $json = $answer['json'];
            printf(
                '<p>%s <code>%s</code></p>',
                esc_html__('Delivery URL:', 'ml-connector'),
                esc_html((string) ($json['delivery-url'] ?? ''))
            );
            $hooks = is_array($json['webhooks'] ?? null) ? $json['webhooks'] : [];
            echo '<table class="widefat striped" id="ml-connector-webhooks"><thead><tr><th>ID</th><th>' . esc_html__('Topic', 'ml-connector') . '</th><th>' . esc_html__('Status', 'ml-connector') . '</th><th>' . esc_html__('Delivers to', 'ml-connector') . '</th></tr></thead><tbody>';
            foreach ($hooks as $hook) {
                if (!is_array($hook)) {
                    continue;
                }
                printf(
                    '<tr><td>%d</td><td>%s</td><td>%s</td><td>%s</td></tr>',
                    (int) ($hook['id'] ?? 0),
                    esc_html((string) ($hook['topic'] ?? '')),
                    esc_html((string) ($hook['status'] ?? '')),
                    esc_html((string) ($hook['delivery-url'] ?? ''))
                );
            }
            if (!$hooks) {
                echo '<tr><td colspan="4">' . esc_html__('None: register them below.', 'ml-connector') . '</td></tr>';
            }
            echo '</tbody></table>';
        }
        self::actionForm(self::ACTION_WEBHOOKS, __('Register or repair webhooks', 'ml-connector'), [], 'ml-connector-register-webhooks');
        self::actionForm(self::ACTION_ROTATE, __('Rotate the webhook secret', 'ml-connector'), [], 'ml-connector-rotate-secret');
        $rotation = is_array($status['store']['secret_rotation'] ?? null) ? $status['store']['secret_rotation'] : null;
        if (null !== $rotation) {
            printf(
                '<div class="notice notice-info inline" id="ml-connector-rotation"><p>%s</p></div>',
                /* translators: %d: number of deliveries */
                esc_html(sprintf(__('A webhook secret rotation is under way: the previous secret is still accepted (%d deliveries signed with it since the host started). Finish the rotation once none come any more.', 'ml-connector'), (int) ($rotation['previous_used'] ?? 0)))
            );
            self::actionForm(self::ACTION_FINISH_ROTATION, __('Finish the rotation', 'ml-connector'), [], 'ml-connector-finish-rotation');
        }
        echo '<form method="post" action="' . esc_url(admin_url('admin-post.php')) . '" class="ml-connector-inline" id="ml-connector-backfill-form">';
        Plugin::formFields(self::ACTION_BACKFILL);
        echo '<label for="ml-connector-backfill-since">' . esc_html__('Catch up orders modified since', 'ml-connector') . '</label> ';
        printf('<input type="date" id="ml-connector-backfill-since" name="since" value="%s"> ', esc_attr(gmdate('Y-m-d', time() - 7 * DAY_IN_SECONDS)));
        submit_button(__('Catch up', 'ml-connector'), 'secondary', 'backfill', false);
        echo '</form>';
    }

    /**
     * Order ids from text.
     *
     * @param string $text "1042, 1043".
     * @return int[]
     */
    public static function ids(string $text): array
    {
        preg_match_all('/\d+/', $text, $m);
        return array_values(array_unique(array_map('intval', $m[0])));
    }

    /**
     * POSTs to the admin API and flashes the outcome.
     *
     * @param string   $path    Path.
     * @param array    $body    JSON body.
     * @param callable $success Message from the 200 JSON.
     */
    private static function post(string $path, array $body, callable $success): string
    {
        $back = Plugin::pageUrl('status');
        $client = HostClient::fromOptions();
        if (null === $client) {
            Plugin::flash(['notice' => __('Set the host URL and admin token first.', 'ml-connector'), 'level' => 'error']);
            return $back;
        }
        $answer = $client->request('POST', $path, $body, ['timeout' => 30]);
        delete_transient(self::CACHE);
        if (200 === $answer['status'] && is_array($answer['json'])) {
            Plugin::flash(['notice' => $success($answer['json']), 'level' => 'success']);
        } elseif (422 === $answer['status'] && is_array($answer['json']['errors'] ?? null)) {
            Plugin::flash(['notice' => implode('; ', array_map('strval', array_filter($answer['json']['errors'], 'is_string'))), 'level' => 'error']);
        } else {
            /* translators: %s: error message */
            Plugin::flash(['notice' => sprintf(__('The host did not do it: %s', 'ml-connector'), (string) $answer['error']), 'level' => 'error']);
        }
        return $back;
    }

    /**
     * /api/status: [json|null, error|null]. The counts and alerts are cached for a minute (the
     * notices); $fresh asks the host and returns the whole answer.
     *
     * @param bool $fresh Skip the cache.
     * @return array{0:?array,1:?string}
     */
    public static function hostStatus(bool $fresh = false): array
    {
        $client = HostClient::fromOptions();
        if (null === $client) {
            return [null, null];
        }
        $cached = $fresh ? false : get_transient(self::CACHE);
        if (is_array($cached)) {
            return [$cached['json'], $cached['error']];
        }
        $answer = $client->request('GET', '/api/status', null, ['timeout' => 3]);
        if (200 === $answer['status'] && is_array($answer['json'])) {
            // Only what the notices need is cached: no shopper's name goes into the options table.
            $value = ['json' => array_intersect_key($answer['json'], ['orders' => true, 'alerts' => true]), 'error' => null];
            $json = $answer['json'];
        } else {
            $value = ['json' => null, 'error' => (string) $answer['error']];
            $json = null;
        }
        set_transient(self::CACHE, $value, self::CACHE_TTL);
        return [$json, $value['error']];
    }

    /**
     * Admin notices (every admin page, for users with the capability).
     */
    public static function notices(): void
    {
        if (!current_user_can(Plugin::capability())) {
            return;
        }
        $client = HostClient::fromOptions();
        if (null === $client) {
            return;
        }
        [$json, $error] = self::hostStatus();
        $statusUrl = Plugin::pageUrl('status');
        if (null === $json) {
            printf(
                '<div class="notice notice-error ml-connector-notice" id="ml-connector-notice-unreachable"><p><strong>ml-connector:</strong> %s <a href="%s">%s</a></p></div>',
                /* translators: 1: host URL, 2: error */
                esc_html(sprintf(__('the host at %1$s cannot be reached (%2$s). Orders are not posted to Sage X3 until it is back; WooCommerce keeps its deliveries for a while.', 'ml-connector'), $client->baseUrl(), (string) $error)),
                esc_url(Plugin::pageUrl('settings')),
                esc_html__('Check the connection', 'ml-connector')
            );
            return;
        }
        foreach ((array) ($json['alerts'] ?? []) as $alert) {
            if (is_string($alert) && '' !== $alert) {
                printf(
                    '<div class="notice notice-warning ml-connector-notice ml-connector-alert"><p><strong>ml-connector:</strong> %s</p></div>',
                    esc_html($alert)
                );
            }
        }
        $counts = is_array($json['orders'] ?? null) ? $json['orders'] : [];
        $attention = (int) ($counts['attention'] ?? 0) + (int) ($counts['failed'] ?? 0);
        $held = (int) ($counts['held'] ?? 0);
        if ($attention > 0) {
            printf(
                '<div class="notice notice-error ml-connector-notice" id="ml-connector-notice-attention"><p><strong>ml-connector:</strong> %s <a href="%s">%s</a></p></div>',
                /* translators: %d: number of orders */
                esc_html(sprintf(_n('%d order needs attention: Sage X3 refused it or it failed.', '%d orders need attention: Sage X3 refused them or they failed.', $attention, 'ml-connector'), $attention)),
                esc_url($statusUrl),
                esc_html__('See and replay', 'ml-connector')
            );
        }
        if ($held > 0) {
            printf(
                '<div class="notice notice-warning ml-connector-notice" id="ml-connector-notice-held"><p><strong>ml-connector:</strong> %s <a href="%s">%s</a></p></div>',
                /* translators: %d: number of orders */
                esc_html(sprintf(_n('%d order is on hold for a missing mapping.', '%d orders are on hold for a missing mapping.', $held, 'ml-connector'), $held)),
                esc_url(Plugin::pageUrl('coverage')),
                esc_html__('See what is not mapped', 'ml-connector')
            );
        }
    }

    /**
     * The Status tab.
     */
    public static function renderPage(): void
    {
        if (null === HostClient::fromOptions()) {
            echo '<p>' . esc_html__('Save the host URL and admin token on the Settings tab first.', 'ml-connector') . '</p>';
            return;
        }
        [$json] = self::hostStatus(true);
        echo '<div class="ml-connector-actions">';
        self::actionForm(self::ACTION_RELEASE, __('Release all holds', 'ml-connector'), [], 'ml-connector-release-all');
        self::actionForm(self::ACTION_REPLAY, __('Replay orders needing attention', 'ml-connector'), ['state' => 'attention'], 'ml-connector-replay-attention');
        echo '<form method="post" action="' . esc_url(admin_url('admin-post.php')) . '" class="ml-connector-inline" id="ml-connector-replay-form">';
        Plugin::formFields(self::ACTION_REPLAY);
        echo '<label for="ml-connector-replay-ids">' . esc_html__('Replay orders', 'ml-connector') . '</label> ';
        echo '<input type="text" id="ml-connector-replay-ids" name="orders" placeholder="1042, 1043"> ';
        submit_button(__('Replay', 'ml-connector'), 'secondary', 'replay', false);
        echo '</form></div>';

        if (is_array($json)) {
            foreach (['attention' => [__('Needs attention', 'ml-connector'), self::ACTION_REPLAY, __('Replay', 'ml-connector')], 'held' => [__('On hold', 'ml-connector'), self::ACTION_RELEASE, __('Release', 'ml-connector')]] as $key => [$title, $action, $button]) {
                $list = is_array($json[$key] ?? null) ? $json[$key] : [];
                if (!$list) {
                    continue;
                }
                echo '<h2>' . esc_html($title) . '</h2><table class="widefat striped" id="ml-connector-' . esc_attr($key) . '"><tbody>';
                foreach ($list as $order) {
                    $id = (int) ($order['order_id'] ?? 0);
                    echo '<tr><td>#' . (int) $id . '</td><td>' . esc_html((string) ($order['customer'] ?? '')) . '</td><td>' . esc_html((string) ($order['message'] ?? '')) . '</td><td>';
                    self::actionForm($action, $button, ['orders' => (string) $id], '');
                    echo '</td></tr>';
                }
                echo '</tbody></table>';
            }
        }
        $client = HostClient::fromOptions();
        if (null !== $client) {
            self::renderWebhooks($client, is_array($json) ? $json : null);
        }
        echo '<h2>' . esc_html__('Host status page', 'ml-connector') . '</h2>';
        printf(
            '<iframe id="ml-connector-status-frame" class="ml-connector-frame" title="%s" src="%s" sandbox="allow-same-origin allow-top-navigation-by-user-activation"></iframe>',
            esc_attr__('ml-connector status', 'ml-connector'),
            esc_url(self::frameUrl())
        );
    }

    /**
     * A one-button form.
     *
     * @param string $action Action.
     * @param string $label  Button label.
     * @param array  $fields Hidden fields.
     * @param string $id     Form id.
     */
    private static function actionForm(string $action, string $label, array $fields, string $id): void
    {
        echo '<form method="post" class="ml-connector-inline" action="' . esc_url(admin_url('admin-post.php')) . '"' . ($id ? ' id="' . esc_attr($id) . '"' : '') . '>';
        Plugin::formFields($action);
        foreach ($fields as $name => $value) {
            printf('<input type="hidden" name="%s" value="%s">', esc_attr($name), esc_attr($value));
        }
        submit_button($label, 'secondary', 'submit', false);
        echo '</form>';
    }
}
