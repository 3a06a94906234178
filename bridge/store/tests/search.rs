//! User search: substring, case-insensitive, over uid, display name and e-mail,
//! whether the trigram index or the ordered scan answers.

use authbridge_store::{AccountStore, NewUser, UserQuery};

mod common;
use common::Opened;

fn find(s: &dyn AccountStore, search: &str, limit: usize, offset: usize) -> Vec<String> {
    s.users(&UserQuery {
        search: Some(search.into()),
        limit,
        offset,
        disabled_only: false,
    })
    .unwrap()
    .into_iter()
    .map(|u| u.uid)
    .collect()
}

fn search_finds_substrings_either_way(s: &Opened) {
    let add = |uid: &str, name: Option<&str>, email: Option<&str>| {
        s.create_user(
            &NewUser {
                uid: uid.into(),
                display_name: name.map(Into::into),
                email: email.map(Into::into),
                backend: "Database".into(),
                ..NewUser::default()
            },
            0,
        )
        .unwrap();
    };
    add("frank", Some("Frank Küster"), Some("fk@example.org"));
    add(
        "anna_100",
        Some("Anna 100% sure"),
        Some("anna@mail.example"),
    );
    for i in 0..1500 {
        add(&format!("bulk{i:04}"), Some("Bulk Person"), None);
    }
    // Index path (few matches): uid, display name, e-mail; case-insensitive.
    assert_eq!(find(&**s, "RAN", 50, 0), ["frank"]);
    assert_eq!(find(&**s, "küs", 50, 0), ["frank"]);
    assert_eq!(find(&**s, "mail.exam", 50, 0), ["anna_100"]);
    // Wildcards are literal.
    assert_eq!(find(&**s, "100% s", 50, 0), ["anna_100"]);
    assert_eq!(find(&**s, "a_1", 50, 0), ["anna_100"]);
    assert!(find(&**s, "a%1", 50, 0).is_empty());
    assert!(find(&**s, "n_a", 50, 0).is_empty(), "_ is not a wildcard");
    // Scan path (many matches) and short terms: ordered, paged.
    assert_eq!(
        find(&**s, "bulk", 3, 2),
        ["bulk0002", "bulk0003", "bulk0004"]
    );
    assert_eq!(find(&**s, "k0", 2, 0), ["bulk0000", "bulk0001"]);
    assert_eq!(find(&**s, "bulk14", 100, 0).len(), 100);
    // Changes reach the index.
    s.set_display_name("frank", Some("Francis")).unwrap();
    assert!(find(&**s, "Küster", 50, 0).is_empty());
    assert_eq!(find(&**s, "Francis", 50, 0), ["frank"]);
    s.delete_user("frank").unwrap();
    assert!(find(&**s, "fk@ex", 50, 0).is_empty());
}

contract!(search_finds_substrings_either_way,);
