<?php

namespace MLConnector\Tests;

/**
 * The shop side of the WooCommerce tests, through WooCommerce's own PHP API only: what a checkout
 * and a shop manager do (orders, payment, refund, cancel), and running Action Scheduler, which
 * is what delivers WooCommerce's webhooks (WP cron is off in the test site; the run is the
 * test's decision).
 */
final class Shop
{
    /** Shoppers, with names that must come out as text. */
    private const PEOPLE = [
        ['Zoë', 'Ørsted', 'zoe@example.test'],
        ['Seán', "O'Brien", 'sean@example.test'],
        ['Ana', 'García-López', 'ana@example.test'],
        ['Jean-Luc', 'Lefèvre', 'jl@example.test'],
    ];

    /**
     * One order as a checkout makes it: lines for the SKUs, flat-rate shipping, paid by bank
     * transfer then payment_complete() (processing). Returns its id.
     *
     * @param string[] $skus  Product or variation SKUs, one unit each.
     * @param int      $which Which shopper.
     */
    public static function placeOrder(array $skus, int $which = 0): int
    {
        [$first, $last, $email] = self::PEOPLE[$which % count(self::PEOPLE)];
        $order = wc_create_order(['status' => 'pending', 'created_via' => 'checkout']);
        if (is_wp_error($order)) {
            throw new \RuntimeException($order->get_error_message());
        }
        foreach ($skus as $sku) {
            $product = wc_get_product(wc_get_product_id_by_sku($sku));
            if (!$product) {
                throw new \RuntimeException("no product with SKU $sku");
            }
            $order->add_product($product, 1);
        }
        $address = [
            'first_name' => $first,
            'last_name' => $last,
            'company' => '',
            'email' => $email,
            'phone' => '+33 1 23 45 67 89',
            'address_1' => '12 rue de l\'Église',
            'address_2' => '',
            'city' => 'Lyon',
            'state' => '',
            'postcode' => '69002',
            'country' => 'FR',
        ];
        $order->set_address($address, 'billing');
        $order->set_address($address, 'shipping');
        $shipping = new \WC_Order_Item_Shipping();
        $shipping->set_method_id('flat_rate');
        $shipping->set_instance_id(1);
        $shipping->set_method_title('Flat rate');
        $shipping->set_total('4.90');
        $order->add_item($shipping);
        $order->set_payment_method('bacs');
        $order->set_payment_method_title('Direct bank transfer');
        $order->calculate_totals();
        $order->save();
        $order->payment_complete();
        return $order->get_id();
    }

    /**
     * Runs Action Scheduler until no webhook delivery is pending (each run delivers a batch).
     * Returns how many deliveries ran and how many are left.
     */
    public static function deliver(): array
    {
        $ran = 0;
        for ($round = 0; $round < 100; $round++) {
            $pending = self::pendingDeliveries();
            if (0 === $pending) {
                break;
            }
            $ran += (int) \ActionScheduler_QueueRunner::instance()->run('mlc-test');
        }
        return ['ran' => $ran, 'pending' => self::pendingDeliveries()];
    }

    /** Webhook deliveries Action Scheduler still has to run. */
    public static function pendingDeliveries(): int
    {
        return count(as_get_scheduled_actions([
            'hook' => 'woocommerce_deliver_webhook_async',
            'status' => \ActionScheduler_Store::STATUS_PENDING,
            'per_page' => -1,
        ], 'ids'));
    }

    /**
     * Refunds one unit of the order's first line, restocked, as a shop manager would from the
     * order screen. Returns the refund's id.
     *
     * @param int $orderId Order.
     */
    public static function refundFirstLine(int $orderId): int
    {
        $order = wc_get_order($orderId);
        $items = $order->get_items();
        $item = reset($items);
        $unit = wc_format_decimal((float) $item->get_total() / max(1, $item->get_quantity()), 2);
        $refund = wc_create_refund([
            'order_id' => $orderId,
            'amount' => $unit,
            'reason' => 'Damaged in transit',
            'line_items' => [$item->get_id() => ['qty' => 1, 'refund_total' => $unit, 'refund_tax' => []]],
            'restock_items' => true,
        ]);
        if (is_wp_error($refund)) {
            throw new \RuntimeException($refund->get_error_message());
        }
        return $refund->get_id();
    }

    /** Every webhook of the shop: id, topic, status, consecutive failures, delivery URL. */
    public static function webhooks(): array
    {
        $store = \WC_Data_Store::load('webhook');
        $out = [];
        foreach ($store->search_webhooks(['limit' => -1]) as $id) {
            $w = wc_get_webhook($id);
            if ($w) {
                $out[] = [
                    'id' => $w->get_id(),
                    'topic' => $w->get_topic(),
                    'status' => $w->get_status(),
                    'failures' => $w->get_failure_count(),
                    'delivery_url' => $w->get_delivery_url(),
                    'name' => $w->get_name(),
                ];
            }
        }
        return $out;
    }
}
