//! `PostForm`: the `PostUrl` encoding (a URL-encoded POST body, what a plain HTML form sends)
//! that also takes a key repeated in the body (several checked checkboxes of one name) as a
//! list, where `PostUrl`'s decoder refuses it ("Multiple values for one key"). A list argument
//! is a [`FormList`], which also takes a single value. Server functions opt in with
//! `#[server(input = PostForm)]` and [`post_form_args!`] on their argument struct.

use serde::{Deserialize, Serialize};

/// A URL-encoded POST body in which repeated keys make a list.
pub struct PostForm;

impl leptos::server_fn::ContentType for PostForm {
    const CONTENT_TYPE: &'static str = "application/x-www-form-urlencoded";
}

impl leptos::server_fn::codec::Encoding for PostForm {
    const METHOD: http::Method = http::Method::POST;
}

/// A list of form values: `k=a&k=b`, `k[0]=a&k[1]=b`, a single `k=a`, or nothing (with
/// `#[server(default)]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FormList(pub Vec<String>);

impl<'de> Deserialize<'de> for FormList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Values;
        impl<'de> serde::de::Visitor<'de> for Values {
            type Value = FormList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("one value or a list of values")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FormList, E> {
                Ok(FormList(vec![v.to_string()]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<FormList, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<String>()? {
                    out.push(v);
                }
                Ok(FormList(out))
            }
        }
        d.deserialize_any(Values)
    }
}

/// Index the keys that occur more than once: `a=1&b=2&a=3` becomes `a[0]=1&b=2&a[1]=3`.
pub fn index_repeated_keys(body: &str) -> String {
    let pairs: Vec<(&str, Option<&str>)> = body
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (p, None),
        })
        .collect();
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let repeated: std::collections::HashSet<&str> = pairs
        .iter()
        .filter_map(|(k, _)| {
            let n = seen.entry(k).or_insert(0);
            *n += 1;
            (*n == 2).then_some(*k)
        })
        .collect();
    let mut next: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    pairs
        .iter()
        .map(|(k, v)| {
            let key = if repeated.contains(k) {
                let i = next.entry(k).or_insert(0);
                *i += 1;
                format!("{k}%5B{}%5D", *i - 1)
            } else {
                k.to_string()
            };
            match v {
                Some(v) => format!("{key}={v}"),
                None => key,
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Implement [`PostForm`]'s encoding for a server function's argument struct.
#[macro_export]
macro_rules! post_form_args {
    ($t:ty) => {
        impl<E, Request>
            leptos::server_fn::codec::IntoReq<$crate::app::api::form::PostForm, Request, E> for $t
        where
            Request: leptos::server_fn::request::ClientReq<E>,
            E: leptos::server_fn::error::FromServerFnError,
        {
            fn into_req(self, path: &str, accepts: &str) -> Result<Request, E> {
                use leptos::server_fn::error::IntoAppError;
                let qs = serde_qs::to_string(&self).map_err(|e| {
                    leptos::server_fn::error::ServerFnErrorErr::Serialization(e.to_string())
                        .into_app_error()
                })?;
                Request::try_new_post(path, "application/x-www-form-urlencoded", accepts, qs)
            }
        }

        impl<E, Request>
            leptos::server_fn::codec::FromReq<$crate::app::api::form::PostForm, Request, E> for $t
        where
            Request: leptos::server_fn::request::Req<E> + Send + 'static,
            E: leptos::server_fn::error::FromServerFnError,
        {
            async fn from_req(req: Request) -> Result<Self, E> {
                use leptos::server_fn::error::IntoAppError;
                let body = req.try_into_string().await?;
                serde_qs::Config::new(5, false)
                    .deserialize_str::<Self>(&$crate::app::api::form::index_repeated_keys(&body))
                    .map_err(|e| {
                        leptos::server_fn::error::ServerFnErrorErr::Args(e.to_string())
                            .into_app_error()
                    })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Args {
        name: String,
        #[serde(default)]
        ids: FormList,
    }

    fn parse(body: &str) -> Args {
        serde_qs::Config::new(5, false)
            .deserialize_str(&index_repeated_keys(body))
            .unwrap()
    }

    #[test]
    fn repeated_single_indexed_and_missing_keys_make_lists() {
        assert_eq!(parse("name=x&ids=a&ids=b").ids.0, vec!["a", "b"]);
        assert_eq!(parse("ids=a&name=x").ids.0, vec!["a"]);
        assert_eq!(parse("name=x").ids.0, Vec::<String>::new());
        let sent = serde_qs::to_string(&Args {
            name: "x y".into(),
            ids: FormList(vec!["a".into(), "b".into()]),
        })
        .unwrap();
        assert_eq!(parse(&sent).ids.0, vec!["a", "b"]);
        assert_eq!(parse(&sent).name, "x y");
    }
}
