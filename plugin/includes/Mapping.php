<?php

/**
 * The mapping table (WooCommerce product or variation → X3 item, GL account, dimensions), kept
 * on the host: edit, import CSV with a row-by-row error report, export CSV, coverage.
 *
 * @package MLConnector
 */

namespace MLConnector;

if (!defined('ABSPATH')) {
    exit;
}

/**
 * Mapping and Coverage tabs and their actions.
 */
class Mapping
{
    public const ACTION_SAVE = 'ml_connector_mapping_save';
    public const ACTION_IMPORT = 'ml_connector_mapping_import';
    public const ACTION_EXPORT = 'ml_connector_mapping_export';
    public const COLUMNS = ['key_type', 'key', 'item_code', 'sales_unit', 'gl_account', 'dimensions', 'site'];
    /** The core's key types (wit/connector.wit, `mapping-key`), most specific first. */
    public const KEY_TYPES = ['variation', 'product', 'sku', 'shipping', 'fee', 'default'];
    /** The editor's text columns and their smallest width in characters. */
    public const INPUT_SIZES = ['key' => 16, 'item_code' => 12, 'sales_unit' => 5, 'gl_account' => 8, 'dimensions' => 22, 'site' => 6];

    /**
     * Hooks.
     */
    public static function boot(): void
    {
        add_action('admin_post_' . self::ACTION_SAVE, [self::class, 'handleSave']);
        add_action('admin_post_' . self::ACTION_IMPORT, [self::class, 'handleImport']);
        add_action('admin_post_' . self::ACTION_EXPORT, [self::class, 'handleExport']);
    }

    /**
     * `TYPE=VALUE;TYPE=VALUE` → map.
     *
     * @param string $text Dimensions as typed.
     */
    public static function parseDimensions(string $text): array
    {
        $dims = [];
        foreach (explode(';', $text) as $pair) {
            $pair = trim($pair);
            if ('' === $pair) {
                continue;
            }
            $kv = explode('=', $pair, 2);
            $dims[trim($kv[0])] = isset($kv[1]) ? trim($kv[1]) : '';
        }
        return $dims;
    }

    /**
     * Map → `TYPE=VALUE;TYPE=VALUE`.
     *
     * @param mixed $dims Dimensions from the host.
     */
    public static function formatDimensions($dims): string
    {
        if (!is_array($dims)) {
            return '';
        }
        $parts = [];
        foreach ($dims as $type => $value) {
            $parts[] = $type . '=' . (is_scalar($value) ? (string) $value : '');
        }
        return implode(';', $parts);
    }

    /**
     * The editor's rows (as submitted) → the host's JSON rows, deleted and blank rows left out.
     *
     * @param array $rows Submitted rows.
     * @return array{0:array,1:array} JSON rows, and for each the index of its form row.
     */
    public static function rowsFromForm(array $rows): array
    {
        $out = [];
        $origin = [];
        foreach ($rows as $index => $row) {
            if (!is_array($row) || !empty($row['delete'])) {
                continue;
            }
            $clean = [];
            foreach (self::COLUMNS as $column) {
                $clean[$column] = isset($row[$column]) && is_string($row[$column]) ? sanitize_text_field($row[$column]) : '';
            }
            if ('' === $clean['key'] && '' === $clean['item_code'] && 'default' !== $clean['key_type']) {
                continue; // the empty "add a row" line.
            }
            $clean['dimensions'] = (object) self::parseDimensions($clean['dimensions']);
            $out[] = $clean;
            $origin[] = $index;
        }
        return [$out, $origin];
    }

    /**
     * Save the edited table (PUT /mapping, JSON).
     */
    public static function handleSave(): void
    {
        Plugin::guard(self::ACTION_SAVE);
        $post = wp_unslash($_POST);
        Plugin::finish(self::processSave(isset($post['rows']) && is_array($post['rows']) ? $post['rows'] : []));
    }

    /**
     * Work after the guard.
     *
     * @param array $formRows Submitted rows.
     */
    public static function processSave(array $formRows): string
    {
        $back = Plugin::pageUrl('mapping');
        $client = HostClient::fromOptions();
        if (null === $client) {
            Plugin::flash(['notice' => __('Set the host URL and admin token first.', 'ml-connector'), 'level' => 'error']);
            return $back;
        }
        [$rows, $origin] = self::rowsFromForm($formRows);
        $answer = $client->request('PUT', '/api/admin/mapping', wp_json_encode($rows), ['content_type' => 'application/json', 'timeout' => 60]);
        return self::afterPut($answer, $back, $rows, $origin);
    }

    /**
     * Import a CSV file (PUT /mapping, text/csv).
     */
    public static function handleImport(): void
    {
        Plugin::guard(self::ACTION_IMPORT);
        $csv = null;
        if (isset($_FILES['csv']['tmp_name'], $_FILES['csv']['error']) && UPLOAD_ERR_OK === $_FILES['csv']['error']) {
            $tmp = (string) $_FILES['csv']['tmp_name'];
            if (is_uploaded_file($tmp)) {
                $csv = (string) file_get_contents($tmp); // phpcs:ignore -- reading the upload.
            }
        }
        Plugin::finish(self::processImport($csv));
    }

    /**
     * Work after the guard.
     *
     * @param string|null $csv The uploaded file's content, null when none came.
     */
    public static function processImport(?string $csv): string
    {
        $back = Plugin::pageUrl('mapping');
        $client = HostClient::fromOptions();
        if (null === $client) {
            Plugin::flash(['notice' => __('Set the host URL and admin token first.', 'ml-connector'), 'level' => 'error']);
            return $back;
        }
        if (null === $csv || '' === $csv) {
            Plugin::flash(['notice' => __('Choose a CSV file to import.', 'ml-connector'), 'level' => 'error']);
            return $back;
        }
        $answer = $client->request('PUT', '/api/admin/mapping', $csv, ['content_type' => 'text/csv', 'timeout' => 60]);
        return self::afterPut($answer, $back, null, null);
    }

    /**
     * Flashes the outcome of a PUT /mapping.
     *
     * @param array      $answer Host answer.
     * @param string     $back   Where to go.
     * @param array|null $rows   Rows sent from the editor (to show again on error), or null for CSV.
     * @param array|null $origin Editor row index of each sent row.
     */
    private static function afterPut(array $answer, string $back, ?array $rows, ?array $origin): string
    {
        if (200 === $answer['status'] && is_array($answer['json'])) {
            $count = (int) ($answer['json']['rows'] ?? 0);
            $released = (int) ($answer['json']['released'] ?? 0);
            Plugin::flash([
                /* translators: 1: number of rows, 2: number of orders released */
                'notice' => sprintf(__('Mapping saved: %1$d rows. Held orders queued again: %2$d.', 'ml-connector'), $count, $released),
                'level' => 'success',
            ]);
            return $back;
        }
        if (422 === $answer['status'] && is_array($answer['json']['errors'] ?? null)) {
            $errors = $answer['json']['errors'];
            $rowErrors = [];
            foreach ((array) ($errors['rows'] ?? []) as $error) {
                if (is_array($error)) {
                    $rowErrors[] = [
                        'row' => (int) ($error['row'] ?? 0),
                        'field' => (string) ($error['field'] ?? ''),
                        'message' => (string) ($error['message'] ?? ''),
                    ];
                }
            }
            $flash = [
                'notice' => __('The mapping was not saved: fix the rows below and try again. Nothing was changed.', 'ml-connector'),
                'level' => 'error',
                'row_errors' => $rowErrors,
                'table_error' => is_string($errors['table'] ?? null) ? $errors['table'] : null,
                'from' => null === $rows ? 'csv' : 'editor',
            ];
            if (null !== $rows) {
                $flash['rows'] = array_map(static function ($row) {
                    $row['dimensions'] = self::formatDimensions((array) $row['dimensions']);
                    return $row;
                }, $rows);
            }
            Plugin::flash($flash);
            return $back;
        }
        /* translators: %s: error message */
        Plugin::flash(['notice' => sprintf(__('The host did not accept the mapping: %s', 'ml-connector'), (string) $answer['error']), 'level' => 'error']);
        return $back;
    }

    /**
     * Streams the table as CSV (GET /mapping with Accept: text/csv).
     */
    public static function handleExport(): void
    {
        Plugin::guard(self::ACTION_EXPORT);
        $client = HostClient::fromOptions();
        $answer = null === $client ? null : $client->request('GET', '/api/admin/mapping', null, ['accept' => 'text/csv']);
        if (null === $answer || 200 !== $answer['status']) {
            Plugin::flash(['notice' => __('The mapping could not be exported: the host did not answer.', 'ml-connector'), 'level' => 'error']);
            Plugin::finish(Plugin::pageUrl('mapping'));
            return;
        }
        nocache_headers();
        header('Content-Type: text/csv; charset=utf-8');
        header('Content-Disposition: attachment; filename="ml-connector-mapping.csv"');
        header('X-Content-Type-Options: nosniff');
        echo $answer['body']; // phpcs:ignore -- a CSV download, not HTML.
        exit;
    }

    /**
     * Product picker suggestions (WooCommerce active): each product's and each variation's SKU
     * and id, once each, as [key type, key, label]. wc_get_products() with the `variation` type
     * already returns the variations, so their parents' get_children() is not walked again
     * (that listed every variation and its SKU twice).
     *
     * @return array<int, array{0:string,1:string,2:string}>
     */
    public static function suggestions(): array
    {
        if (!function_exists('wc_get_products')) {
            return [];
        }
        $out = [];
        $seen = [];
        $add = static function (string $type, string $key, string $label) use (&$out, &$seen): void {
            if ('' === $key || isset($seen[$type . "\0" . $key])) {
                return;
            }
            $seen[$type . "\0" . $key] = true;
            $out[] = [$type, $key, $label];
        };
        $products = wc_get_products([
            'limit' => 500,
            'type' => ['simple', 'variable', 'variation', 'grouped', 'external'],
            'status' => ['publish', 'private', 'draft'],
            'orderby' => 'ID',
            'order' => 'ASC',
            'return' => 'objects',
        ]);
        foreach ($products as $product) {
            $variation = $product->is_type('variation');
            $name = $product->get_name();
            $sku = (string) $product->get_sku();
            $label = '' === $sku ? $name : sprintf('%s (%s)', $name, $sku);
            $add($variation ? 'variation' : 'product', (string) $product->get_id(), $label);
            if ('' !== $sku) {
                $add('sku', $sku, $name);
            }
        }
        return $out;
    }

    /**
     * The Mapping tab: editor, import, export.
     */
    public static function renderTable(): void
    {
        $client = HostClient::fromOptions();
        if (null === $client) {
            echo '<p>' . esc_html__('Save the host URL and admin token on the Settings tab first.', 'ml-connector') . '</p>';
            return;
        }
        $flash = Plugin::takeFlash();
        $rowErrors = is_array($flash['row_errors'] ?? null) ? $flash['row_errors'] : [];
        if (!empty($flash['table_error'])) {
            echo '<div class="notice notice-error inline" id="ml-connector-table-error"><p>' . esc_html((string) $flash['table_error']) . '</p></div>';
        }
        if ($rowErrors && 'csv' === ($flash['from'] ?? '')) {
            echo '<h2>' . esc_html__('Import errors', 'ml-connector') . '</h2>';
            echo '<table class="widefat striped" id="ml-connector-import-errors"><thead><tr><th>' . esc_html__('Row', 'ml-connector') . '</th><th>' . esc_html__('Column', 'ml-connector') . '</th><th>' . esc_html__('Problem', 'ml-connector') . '</th></tr></thead><tbody>';
            foreach ($rowErrors as $error) {
                printf(
                    '<tr data-row="%d"><td>%d</td><td><code>%s</code></td><td>%s</td></tr>',
                    (int) $error['row'],
                    (int) $error['row'],
                    esc_html($error['field']),
                    esc_html($error['message'])
                );
            }
            echo '</tbody></table><p class="description">' . esc_html__('Rows are numbered from 1 after the header line.', 'ml-connector') . '</p>';
        }

        $answer = $client->get('/api/admin/mapping');
        if (200 !== $answer['status'] || !is_array($answer['json'])) {
            /* translators: %s: error message */
            echo '<div class="notice notice-error inline"><p>' . esc_html(sprintf(__('The mapping could not be read: %s', 'ml-connector'), (string) $answer['error'])) . '</p></div>';
            return;
        }
        $editorErrors = [];
        if ('editor' === ($flash['from'] ?? '') && is_array($flash['rows'] ?? null)) {
            $rows = $flash['rows'];
            foreach ($rowErrors as $error) {
                $editorErrors[$error['row'] - 1][] = $error;
            }
        } else {
            $rows = [];
            foreach ($answer['json'] as $row) {
                if (is_array($row)) {
                    $row['dimensions'] = self::formatDimensions($row['dimensions'] ?? []);
                    $rows[] = $row;
                }
            }
        }
        $rows[] = array_fill_keys(self::COLUMNS, ''); // the "add a row" line.

        echo '<h2>' . esc_html__('Mapping table', 'ml-connector') . '</h2>';
        echo '<p>' . esc_html__('Each WooCommerce product, variation or SKU → the X3 item, sales unit, GL account and dimensions. The most specific row wins: variation, then product, then SKU, then default. Shipping methods (flat_rate, …) and fees (by name) have rows of their own.', 'ml-connector') . '</p>';
        $suggestions = self::suggestions();
        if ($suggestions) {
            // Choosing a suggestion also sets the row's key type (assets/admin.js, data-type).
            echo '<datalist id="ml-connector-products">';
            foreach ($suggestions as [$type, $key, $label]) {
                printf('<option value="%s" data-type="%s">%s</option>', esc_attr($key), esc_attr($type), esc_html($type . ': ' . $label));
            }
            echo '</datalist>';
        }
        echo '<form method="post" action="' . esc_url(admin_url('admin-post.php')) . '" id="ml-connector-mapping-form">';
        Plugin::formFields(self::ACTION_SAVE);
        echo '<div class="ml-connector-scroll"><table class="widefat striped ml-connector-mapping" id="ml-connector-mapping"><thead><tr>';
        $heads = [
            __('Key type', 'ml-connector'), __('Key (SKU or id)', 'ml-connector'), __('X3 item', 'ml-connector'),
            __('Sales unit', 'ml-connector'), __('GL account', 'ml-connector'), __('Dimensions (TYPE=VALUE;…)', 'ml-connector'),
            __('Site', 'ml-connector'), __('Delete', 'ml-connector'),
        ];
        foreach ($heads as $head) {
            echo '<th>' . esc_html($head) . '</th>';
        }
        echo '</tr></thead><tbody>';
        foreach (array_values($rows) as $i => $row) {
            $rowClass = isset($editorErrors[$i]) ? ' class="ml-connector-row-error"' : '';
            printf('<tr data-index="%d"%s>', (int) $i, $rowClass); // phpcs:ignore -- constant markup.
            echo '<td><select name="rows[' . (int) $i . '][key_type]">';
            $types = self::KEY_TYPES;
            $current = (string) ($row['key_type'] ?? '');
            if ('' !== $current && !in_array($current, $types, true)) {
                $types[] = $current; // a type this version does not know is kept as it is.
            }
            if ('' === $current) {
                $current = 'sku';
            }
            foreach ($types as $type) {
                printf('<option value="%s"%s>%s</option>', esc_attr($type), selected($current, $type, false), esc_html($type));
            }
            echo '</select></td>';
            foreach (self::INPUT_SIZES as $column => $minimum) {
                $list = 'key' === $column && $suggestions ? ' list="ml-connector-products"' : '';
                $value = is_scalar($row[$column] ?? '') ? (string) ($row[$column] ?? '') : '';
                // Wide enough for the whole value ("CCT=WEB;DEP=APPAREL" was cut); admin.js
                // widens a field as it is typed in.
                printf(
                    '<td><input type="text" name="rows[%d][%s]" value="%s" size="%d" aria-label="%s"%s></td>',
                    (int) $i,
                    esc_attr($column),
                    esc_attr($value),
                    (int) max($minimum, mb_strlen($value) + 2),
                    esc_attr($column),
                    $list // phpcs:ignore -- constant markup.
                );
            }
            printf('<td><input type="checkbox" name="rows[%d][delete]" value="1" aria-label="%s"></td></tr>', (int) $i, esc_attr__('Delete', 'ml-connector'));
            foreach ($editorErrors[$i] ?? [] as $error) {
                printf(
                    '<tr class="ml-connector-row-message"><td colspan="8" class="ml-connector-field-error">%s</td></tr>',
                    /* translators: 1: column, 2: message */
                    esc_html(sprintf(__('%1$s: %2$s', 'ml-connector'), $error['field'], $error['message']))
                );
            }
        }
        echo '</tbody></table></div>';
        // Rows are added in place (assets/admin.js): as many as needed, one save. Without
        // JavaScript the empty last line adds one row per save.
        printf(
            '<p><button type="button" class="button" id="ml-connector-add-row" hidden>%s</button></p>',
            esc_html__('Add a row', 'ml-connector')
        );
        submit_button(__('Save mapping', 'ml-connector'), 'primary', 'save', true, ['id' => 'ml-connector-save-mapping']);
        echo '</form>';

        echo '<h2>' . esc_html__('Import and export', 'ml-connector') . '</h2>';
        echo '<p>' . esc_html__('CSV columns: key_type,key,item_code,sales_unit,gl_account,dimensions,site. An import replaces the whole table; a file with any bad row changes nothing.', 'ml-connector') . '</p>';
        echo '<form method="post" enctype="multipart/form-data" action="' . esc_url(admin_url('admin-post.php')) . '" id="ml-connector-import-form">';
        Plugin::formFields(self::ACTION_IMPORT);
        echo '<input type="file" name="csv" id="ml-connector-csv" accept=".csv,text/csv"> ';
        submit_button(__('Import CSV', 'ml-connector'), 'secondary', 'import', false, ['id' => 'ml-connector-import']);
        echo '</form>';
        printf(
            '<p><a class="button" id="ml-connector-export" href="%s">%s</a></p>',
            esc_url(wp_nonce_url(admin_url('admin-post.php?action=' . self::ACTION_EXPORT), self::ACTION_EXPORT)),
            esc_html__('Export CSV', 'ml-connector')
        );
    }

    /**
     * The Coverage tab: products and variations no row maps (read from WooCommerce by the host).
     */
    public static function renderCoverage(): void
    {
        $client = HostClient::fromOptions();
        if (null === $client) {
            echo '<p>' . esc_html__('Save the host URL and admin token on the Settings tab first.', 'ml-connector') . '</p>';
            return;
        }
        $answer = $client->request('GET', '/api/admin/mapping/coverage', null, ['timeout' => 60]);
        if (200 !== $answer['status'] || !is_array($answer['json'])) {
            /* translators: %s: error message */
            echo '<div class="notice notice-error inline" id="ml-connector-coverage-error"><p>' . esc_html(sprintf(__('The coverage could not be computed: %s', 'ml-connector'), (string) $answer['error'])) . '</p></div>';
            return;
        }
        $json = $answer['json'];
        printf(
            '<p id="ml-connector-coverage-summary">%s</p>',
            /* translators: 1: mapped, 2: total */
            esc_html(sprintf(__('%1$d of %2$d products and variations have a mapping row.', 'ml-connector'), (int) ($json['mapped'] ?? 0), (int) ($json['total'] ?? 0)))
        );
        foreach (['unmapped' => __('Not mapped (orders with them are held)', 'ml-connector'), 'by-default' => __('Covered only by the default row', 'ml-connector')] as $key => $title) {
            $list = is_array($json[$key] ?? null) ? $json[$key] : [];
            echo '<h2>' . esc_html($title) . ' (' . count($list) . ')</h2>';
            if (!$list) {
                continue;
            }
            echo '<table class="widefat striped" id="ml-connector-' . esc_attr($key) . '"><thead><tr><th>' . esc_html__('Product', 'ml-connector') . '</th><th>' . esc_html__('Variation', 'ml-connector') . '</th><th>SKU</th><th>' . esc_html__('Name', 'ml-connector') . '</th></tr></thead><tbody>';
            foreach ($list as $entry) {
                printf(
                    '<tr><td>%d</td><td>%s</td><td>%s</td><td>%s</td></tr>',
                    (int) ($entry['product-id'] ?? 0),
                    esc_html(empty($entry['variation-id']) ? '—' : (string) (int) $entry['variation-id']),
                    esc_html((string) ($entry['sku'] ?? '')),
                    esc_html((string) ($entry['name'] ?? ''))
                );
            }
            echo '</tbody></table>';
        }
    }
}
