<?php

namespace MLConnector\Tests;

use MLConnector\Plugin;
use MLConnector\Settings;
use MLConnector\Status;

/**
 * WordPress's own uninstall_plugin() runs plugin/uninstall.php: every option and transient of the
 * plugin goes; the host keeps its settings and mapping (uninstall says so and does not call it).
 * Runs last, the removal last of all: the options are gone afterwards (the browser test starts
 * from a plugin that was never configured).
 */
class UninstallTest extends TestCase
{
    public function testUninstallFileRefusesToRunOutsideWordPressUninstall(): void
    {
        $out = shell_exec('php ' . escapeshellarg(WP_PLUGIN_DIR . '/ml-connector/uninstall.php') . ' 2>&1; echo "rc=$?"');
        $this->assertSame('rc=0', trim((string) $out), 'exits at once, doing nothing, without WP_UNINSTALL_PLUGIN');
    }

    public function testUninstallRemovesWhatThePluginStoredAndLeavesTheHostAlone(): void
    {
        Settings::refreshDeliveryUrl();
        Status::hostStatus(true);
        Plugin::flash(['notice' => 'x']);
        set_transient(Plugin::FLASH . self::$subscriber, ['notice' => 'y'], 300);
        foreach ([Settings::OPTION_HOST, Settings::OPTION_TOKEN, Settings::OPTION_DELIVERY] as $option) {
            $this->assertNotSame('', (string) get_option($option, ''), "$option is set before");
        }
        $this->assertNotFalse(get_transient(Status::CACHE));
        [, $settingsBefore] = $this->host('GET', '/api/admin/settings');
        [, $mappingBefore] = $this->host('GET', '/api/admin/mapping');

        uninstall_plugin('ml-connector/ml-connector.php');

        global $wpdb;
        wp_cache_flush();
        foreach ([Settings::OPTION_HOST, Settings::OPTION_TOKEN, Settings::OPTION_DELIVERY] as $option) {
            $rows = (int) $wpdb->get_var($wpdb->prepare("SELECT COUNT(*) FROM {$wpdb->options} WHERE option_name = %s", $option));
            $this->assertSame(0, $rows, "$option is removed");
        }
        $this->assertSame('', (string) get_option(Settings::OPTION_TOKEN), 'the token is gone');
        $left = $wpdb->get_col("SELECT option_name FROM {$wpdb->options} WHERE option_name LIKE '%ml\\_connector%'");
        $this->assertSame([], $left, 'no option or transient of the plugin is left');

        [$status, $settingsAfter] = $this->host('GET', '/api/admin/settings');
        $this->assertSame(200, $status, 'the host and its token are untouched');
        $this->assertSame($settingsBefore, $settingsAfter);
        [, $mappingAfter] = $this->host('GET', '/api/admin/mapping');
        $this->assertSame($mappingBefore, $mappingAfter);
    }
}
