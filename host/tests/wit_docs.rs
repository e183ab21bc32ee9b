//! The WIT contract is documented item by item (STYLE.md: `///` on every item): every interface,
//! world, record and its fields, enum and its cases, variant and its cases, flags and each flag,
//! resource, type alias and function in `wit/*.wit` has a `///` doc comment. Fails naming every
//! one that has none, as `interface.item.field`.
//!
//! Read through wit-parser, the parser both bindings generators use, so a doc comment counts
//! exactly when it is attached to the item (a `//` comment or a blank line in between does not).

#![allow(clippy::unwrap_used)]

use std::path::Path;

use wit_parser::{Docs, Resolve, Type, TypeDefKind, TypeOwner};

fn undocumented() -> Vec<String> {
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve.push_dir(&wit).unwrap();
    let mut missing = Vec::new();
    let mut check = |docs: &Docs, what: String| {
        if docs.contents.as_deref().is_none_or(|d| d.trim().is_empty()) {
            missing.push(what);
        }
    };
    let package = &resolve.packages[pkg];
    for (name, &id) in &package.worlds {
        check(&resolve.worlds[id].docs, format!("world {name}"));
    }
    for (iface_name, &id) in &package.interfaces {
        let iface = &resolve.interfaces[id];
        check(&iface.docs, format!("interface {iface_name}"));
        for (name, &ty) in &iface.types {
            let def = &resolve.types[ty];
            // `use other.{name}` makes an alias owned here that points into another interface:
            // its docs are the original's.
            if let TypeDefKind::Type(Type::Id(target)) = def.kind
                && resolve.types[target].owner != TypeOwner::Interface(id)
            {
                continue;
            }
            let at = format!("{iface_name}.{name}");
            check(&def.docs, at.clone());
            match &def.kind {
                TypeDefKind::Record(r) => {
                    for f in &r.fields {
                        check(&f.docs, format!("{at}.{}", f.name));
                    }
                }
                TypeDefKind::Variant(v) => {
                    for c in &v.cases {
                        check(&c.docs, format!("{at}.{}", c.name));
                    }
                }
                TypeDefKind::Enum(e) => {
                    for c in &e.cases {
                        check(&c.docs, format!("{at}.{}", c.name));
                    }
                }
                TypeDefKind::Flags(f) => {
                    for flag in &f.flags {
                        check(&flag.docs, format!("{at}.{}", flag.name));
                    }
                }
                _ => {}
            }
        }
        for (name, f) in &iface.functions {
            check(&f.docs, format!("{iface_name}.{name}"));
        }
    }
    missing
}

#[test]
fn every_wit_item_field_and_case_has_a_doc_comment() {
    let missing = undocumented();
    assert!(
        missing.is_empty(),
        "{} WIT item(s) without a `///` doc comment (say what it means: units, formats, what \
         `none` means):\n  {}",
        missing.len(),
        missing.join("\n  ")
    );
}
