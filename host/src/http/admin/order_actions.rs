//! `/api/admin/orders…`: listing and showing orders, releasing holds, replaying orders.

use super::*;

/// `{"orders": [ids]}` read strictly: every element a positive integer.
pub(super) fn order_ids(v: &Value, errors: &mut Errors) -> Option<Vec<u64>> {
    let Some(items) = v.as_array() else {
        errors.add("orders", "a list of order ids expected");
        return None;
    };
    let mut ids = Vec::new();
    for item in items {
        match item.as_u64() {
            Some(id) if id > 0 => ids.push(id),
            _ => {
                errors.add("orders", format!("{item} is not an order id"));
                return None;
            }
        }
    }
    if ids.is_empty() {
        errors.add("orders", "no order ids given");
        return None;
    }
    ids.sort_unstable();
    ids.dedup();
    Some(ids)
}

/// The orders among `ids` the store does not know.
pub(super) fn unknown_orders(store: &Store, ids: &[u64]) -> Result<Vec<u64>> {
    let mut unknown = Vec::new();
    for id in ids {
        if store.load_order(*id)?.is_none() {
            unknown.push(*id);
        }
    }
    Ok(unknown)
}

pub(super) fn list(ids: &[u64]) -> String {
    ids.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn only_keys(body: &Value, keys: &[&str], errors: &mut Errors) {
    match body.as_object() {
        Some(o) => {
            for k in o.keys().filter(|k| !keys.contains(&k.as_str())) {
                errors.add(k.as_str(), "unknown field");
            }
        }
        None => errors.add("body", "a JSON object expected"),
    }
}

pub(super) fn release_holds(ctx: &Ctx, body: &Value) -> Result<Answer> {
    let mut errors = Errors::default();
    only_keys(body, &["orders"], &mut errors);
    if !errors.is_empty() {
        return Ok(errors.answer());
    }
    let released = match body.get("orders") {
        None => ctx.store.requeue_held()?,
        Some(v) => {
            let Some(ids) = order_ids(v, &mut errors) else {
                return Ok(errors.answer());
            };
            let unknown = unknown_orders(&ctx.store, &ids)?;
            let mut not_held = Vec::new();
            for id in &ids {
                // Held, or posted and waiting in attention for a setting (it carries a hold).
                if let Some(row) = ctx.store.load_order(*id)?
                    && row.state != OrderState::Held
                    && !(row.state == OrderState::Attention && row.hold.is_some())
                {
                    not_held.push(format!("{id} ({})", row.state));
                }
            }
            let mut problems = Vec::new();
            if !unknown.is_empty() {
                problems.push(format!("no such order: {}", list(&unknown)));
            }
            if !not_held.is_empty() {
                problems.push(format!("not on hold: {}", not_held.join(", ")));
            }
            if !problems.is_empty() {
                errors.add("orders", problems.join("; "));
                return Ok(errors.answer());
            }
            for id in &ids {
                ctx.store
                    .timeline_add(*id, "released", "hold released through the admin API")?;
            }
            ctx.store.requeue(&ids)?
        }
    };
    ctx.pipeline.notify();
    info!("admin API: {released} held order(s) queued again");
    Ok(Answer::json(200, &json!({ "released": released })))
}

/// States a replay by state may name: where an order waits for a person.
pub(super) const REPLAY_STATES: [OrderState; 4] = [
    OrderState::Attention,
    OrderState::Failed,
    OrderState::Held,
    OrderState::Retrying,
];

pub(super) fn replay(ctx: &Ctx, body: &Value) -> Result<Answer> {
    let mut errors = Errors::default();
    only_keys(body, &["orders", "state"], &mut errors);
    if !errors.is_empty() {
        return Ok(errors.answer());
    }
    let ids = match (body.get("orders"), body.get("state")) {
        (Some(v), None) => {
            let Some(ids) = order_ids(v, &mut errors) else {
                return Ok(errors.answer());
            };
            let unknown = unknown_orders(&ctx.store, &ids)?;
            if !unknown.is_empty() {
                errors.add("orders", format!("no such order: {}", list(&unknown)));
                return Ok(Answer::json(
                    422,
                    &json!({ "errors": errors.0, "unknown": unknown }),
                ));
            }
            ids
        }
        (None, Some(state)) => {
            let names = REPLAY_STATES.map(OrderState::as_str);
            let state = match one_of(state, &names).map(OrderState::parse) {
                Ok(Some(s)) => s,
                Ok(None) => unreachable!("every replay state has a name"),
                Err(m) => {
                    errors.add("state", m);
                    return Ok(errors.answer());
                }
            };
            ctx.store
                .orders_in_state(state, MAX_REPLAY)?
                .into_iter()
                .map(|r| r.order_id)
                .collect()
        }
        _ => {
            errors.add("orders", "give either orders (a list of ids) or state");
            return Ok(errors.answer());
        }
    };
    for id in &ids {
        ctx.store
            .timeline_add(*id, "replay", "queued again through the admin API")?;
    }
    let requeued = ctx.store.requeue(&ids)?;
    ctx.pipeline.notify();
    info!("admin API: {requeued} order(s) queued again (replay)");
    Ok(Answer::json(
        200,
        &json!({ "requeued": requeued, "orders": ids }),
    ))
}

pub(super) fn order_summary(r: &OrderRow) -> Value {
    json!({
        "id": r.order_id,
        "state": r.state,
        "status": r.status,
        "document-no": r.document_no,
        "customer-code": r.customer_code,
        "last-error": r.last_error,
        "attempts": r.attempts,
        "updated-at": r.updated_at,
    })
}

pub(super) fn list_orders(ctx: &Ctx, query: &str) -> Result<Answer> {
    let mut errors = Errors::default();
    let mut state = None;
    let mut limit = 100usize;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "state" => match OrderState::parse(&v) {
                Some(s) => state = Some(s),
                // A misspelt state listed nothing before, as if no order were in it.
                None => errors.add(
                    "state",
                    format!(
                        "one of {} expected",
                        OrderState::ALL.map(OrderState::as_str).join(", ")
                    ),
                ),
            },
            "limit" => match v.parse::<usize>() {
                Ok(n) if (1..=1000).contains(&n) => limit = n,
                _ => errors.add("limit", "a whole number from 1 to 1000 expected"),
            },
            other => errors.add(other, "unknown parameter"),
        }
    }
    if !errors.is_empty() {
        return Ok(errors.answer());
    }
    let rows = match state {
        Some(s) => ctx.store.orders_in_state(s, limit)?,
        None => ctx.store.recent_orders(limit)?,
    };
    Ok(Answer::json(
        200,
        &json!({ "orders": rows.iter().map(order_summary).collect::<Vec<_>>() }),
    ))
}

pub(super) fn show_order(ctx: &Ctx, id: &str) -> Result<Answer> {
    let not_found = || Answer::json(404, &json!({ "error": format!("no order {id}") }));
    let Ok(order_id) = id.parse::<u64>() else {
        return Ok(not_found());
    };
    let Some(row) = ctx.store.load_order(order_id)? else {
        return Ok(not_found());
    };
    let mut v = order_summary(&row);
    let hold = row
        .hold
        .as_deref()
        .and_then(|h| serde_json::from_str::<Value>(h).ok());
    let timeline: Vec<Value> = ctx
        .store
        .timeline(order_id)?
        .into_iter()
        .map(|t| json!({ "at": t.at, "event": t.event, "detail": t.detail }))
        .collect();
    let ledger: Vec<Value> = ctx
        .store
        .ledger_for_order(order_id)?
        .into_iter()
        .map(|l| {
            json!({
                "idempotency-key": l.idempotency_key,
                "kind": l.kind,
                "reference": l.reference,
                "state": l.state,
                "x3-key": l.x3_key,
                "attempts": l.attempts,
            })
        })
        .collect();
    if let Some(o) = v.as_object_mut() {
        o.insert("trashed".into(), json!(row.trashed));
        o.insert("queued".into(), json!(row.dirty));
        o.insert("next-attempt-at".into(), json!(row.next_attempt_at));
        o.insert("hold".into(), hold.unwrap_or(Value::Null));
        o.insert("timeline".into(), Value::Array(timeline));
        o.insert("ledger".into(), Value::Array(ledger));
        o.insert(
            "x3".into(),
            crate::jobs::x3poll::order_json(&ctx.store, order_id)?,
        );
    }
    Ok(Answer::json(200, &v))
}
