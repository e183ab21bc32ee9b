/*
 * ml-connector admin screens: what plain HTML cannot do. Every screen works without it (one new
 * mapping row per save, a fixed-height status frame).
 *
 * - Mapping: "Add a row" adds rows in place; choosing a product suggestion sets the row's key
 *   type (a variation id is a `variation` key, not a `sku`); a field widens to its whole value.
 * - Status: the embedded status page is as tall as its content, so nothing is cut off. The frame
 *   is WordPress's own page (same origin), so its height can be read.
 */
(function () {
    'use strict';

    function widen(input) {
        var want = Math.max(input.value.length + 2, parseInt(input.getAttribute('data-min-size') || input.size, 10) || 0);
        if (!input.getAttribute('data-min-size')) {
            input.setAttribute('data-min-size', String(input.size));
        }
        if (want > input.size) {
            input.size = want;
        }
    }

    function typeFromSuggestion(input) {
        var list = document.getElementById('ml-connector-products');
        if (!list || input.name.indexOf('[key]') < 0) {
            return;
        }
        var options = list.getElementsByTagName('option');
        for (var i = 0; i < options.length; i++) {
            if (options[i].value === input.value) {
                var row = input.closest('tr');
                var select = row && row.querySelector('select[name$="[key_type]"]');
                var type = options[i].getAttribute('data-type');
                if (select && type) {
                    select.value = type;
                }
                return;
            }
        }
    }

    function setUpMapping() {
        var table = document.getElementById('ml-connector-mapping');
        var button = document.getElementById('ml-connector-add-row');
        if (!table || !button) {
            return;
        }
        var body = table.tBodies[0];
        table.addEventListener('input', function (e) {
            if (e.target && e.target.tagName === 'INPUT' && e.target.type === 'text') {
                widen(e.target);
                typeFromSuggestion(e.target);
            }
        });
        table.addEventListener('change', function (e) {
            if (e.target && e.target.tagName === 'INPUT' && e.target.type === 'text') {
                typeFromSuggestion(e.target);
            }
        });
        // The last data row is the empty "add" line the page renders; new rows copy it.
        var rows = body.querySelectorAll('tr[data-index]');
        var template = rows[rows.length - 1];
        if (!template) {
            return;
        }
        var next = rows.length;
        button.hidden = false;
        button.addEventListener('click', function () {
            var row = template.cloneNode(true);
            var index = next++;
            row.setAttribute('data-index', String(index));
            row.classList.remove('ml-connector-row-error');
            var fields = row.querySelectorAll('input, select');
            for (var i = 0; i < fields.length; i++) {
                var f = fields[i];
                f.name = f.name.replace(/^rows\[\d+\]/, 'rows[' + index + ']');
                if (f.type === 'checkbox') {
                    f.checked = false;
                } else if (f.tagName === 'SELECT') {
                    f.value = 'sku';
                } else {
                    f.value = '';
                    if (f.getAttribute('data-min-size')) {
                        f.size = parseInt(f.getAttribute('data-min-size'), 10);
                    }
                }
            }
            body.appendChild(row);
            var first = row.querySelector('input[type=text]');
            if (first) {
                first.focus();
            }
        });
    }

    function fit(frame) {
        try {
            var doc = frame.contentDocument;
            // The body's height, not the document's: that one is never less than the frame's
            // own, so the frame could grow but not shrink back.
            if (doc && doc.body) {
                frame.style.height = (doc.body.scrollHeight + 2) + 'px';
            }
        } catch (e) {
            // Not readable (another origin): the frame keeps its CSS height.
        }
    }

    function setUpFrame() {
        var frame = document.getElementById('ml-connector-status-frame');
        if (!frame) {
            return;
        }
        // Also after the page's own 30-second refresh and after a click inside the frame.
        frame.addEventListener('load', function () {
            fit(frame);
        });
        fit(frame);
    }

    function ready() {
        setUpMapping();
        setUpFrame();
    }

    if (document.readyState === 'loading') {
        document.addEventListener('DOMContentLoaded', ready);
    } else {
        ready();
    }
}());
