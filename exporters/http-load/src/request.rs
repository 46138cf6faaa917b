//! Requests compiled once: templates split into literal and variable parts, bodies read,
//! checks numbered. The hot path only fills in variables.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Method, Uri};
use rand::Rng;

use crate::metrics::Tags;
use crate::scenario::{
    Body, Check, Mix, OpenAiApi, OpenAiSpec, RequestSpec, Scenario, StatusRange, Var,
};

/// A `{{var}}` template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Lit(String),
    Vu,
    Iter,
    Scenario,
    Step,
    Var(usize),
    /// Only allowed in headers: tokens must never reach URLs, bodies or labels.
    Token,
}

/// Values a template is filled with.
pub struct Env<'a> {
    pub vu: u64,
    pub iter: u64,
    pub scenario: &'a str,
    pub step: &'a str,
    pub vars: &'a [String],
    pub token: Option<&'a str>,
}

impl Template {
    pub fn parse(text: &str, vars: &[String], allow_token: bool) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Lit(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| format!("unclosed '{{{{' in {text:?}"))?;
            let name = after[..close].trim();
            parts.push(match name {
                "vu" => Part::Vu,
                "iter" => Part::Iter,
                "scenario" => Part::Scenario,
                "step" => Part::Step,
                "token" if allow_token => Part::Token,
                "token" => return Err("{{token}} is only allowed in headers".into()),
                v => Part::Var(vars.iter().position(|x| x == v).ok_or_else(|| {
                    format!("unknown variable {{{{{v}}}}}; declare it under vars")
                })?),
            });
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Lit(rest.to_owned()));
        }
        Ok(Self { parts })
    }

    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    pub fn uses_token(&self) -> bool {
        self.parts.contains(&Part::Token)
    }

    pub fn render(&self, env: &Env<'_>) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(l) => s.push_str(l),
                Part::Vu => {
                    let _ = write!(s, "{}", env.vu);
                }
                Part::Iter => {
                    let _ = write!(s, "{}", env.iter);
                }
                Part::Scenario => s.push_str(env.scenario),
                Part::Step => s.push_str(env.step),
                Part::Var(i) => s.push_str(&env.vars[*i]),
                Part::Token => s.push_str(env.token.unwrap_or("")),
            }
        }
        s
    }
}

#[derive(Debug, Clone)]
pub enum BodySource {
    None,
    Static(Bytes),
    Template(Template),
    /// One of these, picked at random per request (Knative's 10K/100K/1000K payloads).
    Files(Vec<Bytes>),
}

#[derive(Debug, Clone)]
pub struct CompiledCheck {
    /// Global check index (the `check` label comes from the metrics' table).
    pub id: u16,
    pub name: String,
    pub status: Option<Vec<StatusRange>>,
    pub header: Option<HeaderName>,
    pub body_contains: Option<String>,
    pub json: Option<String>,
    pub equals: Option<serde_json::Value>,
}

impl CompiledCheck {
    pub fn needs_body(&self) -> bool {
        self.body_contains.is_some() || self.json.is_some()
    }

    pub fn passes(
        &self,
        status: u16,
        headers: Option<&http::HeaderMap>,
        body: &[u8],
        json: &mut Option<Option<serde_json::Value>>,
    ) -> bool {
        if status == 0 {
            return false;
        }
        if let Some(s) = &self.status
            && !s.iter().any(|r| r.contains(status))
        {
            return false;
        }
        if let Some(h) = &self.header
            && !headers.is_some_and(|m| m.contains_key(h))
        {
            return false;
        }
        if let Some(needle) = &self.body_contains
            && !contains(body, needle.as_bytes())
        {
            return false;
        }
        if let Some(ptr) = &self.json {
            let doc = json.get_or_insert_with(|| serde_json::from_slice(body).ok());
            match doc.as_ref().and_then(|d| d.pointer(ptr)) {
                None => return false,
                Some(v) => {
                    if let Some(want) = &self.equals
                        && v != want
                    {
                        return false;
                    }
                }
            }
        }
        true
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

#[derive(Debug, Clone)]
pub struct OpenAi {
    pub api: OpenAiApi,
    pub stream: bool,
}

#[derive(Debug, Clone)]
pub struct Request {
    /// Global request index: the label-set key of `name`/`method`/`scenario`.
    pub id: u16,
    pub name: String,
    pub method: Method,
    pub url: Template,
    /// Parsed once when the URL has no variables.
    pub static_uri: Option<Uri>,
    /// Its `Host` header, built once.
    pub static_host: Option<HeaderValue>,
    pub headers: Vec<(HeaderName, Template)>,
    pub body: BodySource,
    pub content_type: Option<HeaderValue>,
    pub openai: Option<OpenAi>,
    pub weight: u32,
    pub checks: Vec<CompiledCheck>,
    pub needs_body: bool,
    /// Extra labels on its series: the scenario's tags, overridden by its own.
    pub tags: Tags,
}

/// A scenario's requests and how an iteration picks them.
#[derive(Debug, Clone)]
pub struct Requests {
    pub list: Vec<Request>,
    pub mix: Mix,
    /// Cumulative weights for the weighted pick.
    cumulative: Vec<u64>,
    pub var_names: Vec<String>,
    vars: Vec<Var>,
    /// The scenario's own tags (on its per-step series).
    pub tags: Tags,
}

impl Requests {
    /// The requests of one iteration, as indices into `list`.
    pub fn pick(&self, rng: &mut impl Rng, out: &mut Vec<usize>) {
        out.clear();
        match self.mix {
            Mix::Sequence => out.extend(0..self.list.len()),
            Mix::Weighted => {
                let total = *self.cumulative.last().unwrap_or(&1);
                let x = rng.random_range(0..total);
                out.push(self.cumulative.partition_point(|&c| c <= x));
            }
        }
    }

    pub fn draw_vars(&self, rng: &mut impl Rng, out: &mut Vec<String>) {
        out.clear();
        for v in &self.vars {
            out.push(match v {
                Var::Int([a, b]) => rng.random_range(*a..=*b).to_string(),
                Var::Choice(c) => match &c[rng.random_range(0..c.len())] {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
            });
        }
    }
}

/// Everything that can go wrong compiling a scenario's requests; `field` is a path in the file.
#[derive(Debug)]
pub struct CompileError {
    pub field: String,
    pub message: String,
}

pub struct Ids {
    pub next_request: u16,
    pub next_check: u16,
}

pub fn compile(
    scenario_name: &str,
    s: &Scenario,
    base_url: Option<&str>,
    common_headers: &BTreeMap<String, String>,
    ids: &mut Ids,
) -> Result<Requests, CompileError> {
    let var_names: Vec<String> = s.vars.keys().cloned().collect();
    let vars: Vec<Var> = s.vars.values().cloned().collect();
    let mut list = Vec::new();
    for (i, r) in s.requests.iter().enumerate() {
        let field = |f: &str| format!("scenarios.{scenario_name}.requests.{i}{f}");
        let err = |f: &str, message: String| CompileError {
            field: field(f),
            message,
        };
        let mut req = compile_one(r, base_url, common_headers, &var_names, ids)
            .map_err(|(f, m)| err(f, m))?;
        let mut tags = s.tags.clone();
        tags.extend(r.tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        req.tags = tags.into_iter().collect();
        list.push(req);
    }
    let mix = s
        .mix
        .unwrap_or(if s.requests.iter().any(|r| r.weight.is_some()) {
            Mix::Weighted
        } else {
            Mix::Sequence
        });
    let cumulative = list
        .iter()
        .scan(0u64, |acc, r| {
            *acc += u64::from(r.weight);
            Some(*acc)
        })
        .collect();
    Ok(Requests {
        list,
        mix,
        cumulative,
        var_names,
        vars,
        tags: s.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    })
}

fn compile_one(
    r: &RequestSpec,
    base_url: Option<&str>,
    common_headers: &BTreeMap<String, String>,
    vars: &[String],
    ids: &mut Ids,
) -> Result<Request, (&'static str, String)> {
    let raw_url = match (r.url.starts_with('/'), base_url) {
        (true, Some(b)) => format!("{}{}", b.trim_end_matches('/'), r.url),
        (true, None) => {
            return Err((
                ".url",
                "a path needs baseUrl (or a full http:// URL)".into(),
            ));
        }
        (false, _) => r.url.clone(),
    };
    if !(raw_url.starts_with("http://")
        || raw_url.starts_with("https://")
        || raw_url.starts_with("{{"))
    {
        return Err((
            ".url",
            format!("{raw_url:?} must start with http:// or https://"),
        ));
    }
    let url = Template::parse(&raw_url, vars, false).map_err(|m| (".url", m))?;
    let static_uri = if url.is_static() {
        Some(
            raw_url
                .parse::<Uri>()
                .map_err(|e| (".url", format!("{raw_url:?}: {e}")))?,
        )
    } else {
        None
    };
    let method = match (&r.method, &r.openai, &r.body) {
        (Some(m), _, _) => Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|e| (".method", e.to_string()))?,
        (None, Some(_), _) | (None, None, Some(_)) => Method::POST,
        (None, None, None) => Method::GET,
    };
    let mut headers = Vec::new();
    let mut merged = common_headers.clone();
    merged.extend(r.headers.clone());
    for (k, v) in &merged {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|e| (".headers", format!("{k:?}: {e}")))?;
        headers.push((
            name,
            Template::parse(v, vars, true).map_err(|m| (".headers", m))?,
        ));
    }
    let (body, content_type) = match (&r.body, &r.openai) {
        (_, Some(o)) => (
            BodySource::Static(openai_body(o)),
            Some(HeaderValue::from_static("application/json")),
        ),
        (None, None) => (BodySource::None, None),
        (Some(Body::Text(t)), _) => {
            let t2 = Template::parse(t, vars, false).map_err(|m| (".body.text", m))?;
            if t2.is_static() {
                (BodySource::Static(Bytes::from(t.clone())), None)
            } else {
                (BodySource::Template(t2), None)
            }
        }
        (Some(Body::Json(v)), _) => {
            let text = v.to_string();
            let t = Template::parse(&text, vars, false).map_err(|m| (".body.json", m))?;
            let ct = Some(HeaderValue::from_static("application/json"));
            if t.is_static() {
                (BodySource::Static(Bytes::from(text)), ct)
            } else {
                (BodySource::Template(t), ct)
            }
        }
        (Some(Body::File(p)), _) => (
            BodySource::Static(Bytes::from(
                std::fs::read(p).map_err(|e| (".body.file", format!("{}: {e}", p.display())))?,
            )),
            None,
        ),
        (Some(Body::Files(ps)), _) => {
            let mut v = Vec::new();
            for p in ps {
                v.push(Bytes::from(std::fs::read(p).map_err(|e| {
                    (".body.files", format!("{}: {e}", p.display()))
                })?));
            }
            if v.is_empty() {
                return Err((".body.files", "needs at least one file".into()));
            }
            (BodySource::Files(v), None)
        }
    };
    let name = r.name.clone().unwrap_or_else(|| r.url.clone());
    if name.contains("{{token") {
        return Err((".name", "a name must not hold the token".into()));
    }
    let mut checks = Vec::new();
    for (j, c) in r.checks.iter().enumerate() {
        checks.push(compile_check(c, &name, j, ids).map_err(|m| (".checks", m))?);
    }
    let needs_body = checks.iter().any(CompiledCheck::needs_body);
    let id = ids.next_request;
    ids.next_request = ids
        .next_request
        .checked_add(1)
        .ok_or((".", "too many requests".to_owned()))?;
    Ok(Request {
        id,
        name,
        method,
        url,
        static_host: static_uri
            .as_ref()
            .and_then(|u| u.authority())
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok()),
        static_uri,
        headers,
        body,
        content_type,
        openai: r.openai.as_ref().map(|o| OpenAi {
            api: o.api,
            stream: o.stream,
        }),
        weight: r.weight.unwrap_or(1),
        checks,
        needs_body,
        tags: Tags::new(),
    })
}

fn compile_check(
    c: &Check,
    request_name: &str,
    j: usize,
    ids: &mut Ids,
) -> Result<CompiledCheck, String> {
    let header = c
        .header
        .as_ref()
        .map(|h| HeaderName::from_bytes(h.as_bytes()).map_err(|e| format!("{h:?}: {e}")))
        .transpose()?;
    let name = c.name.clone().unwrap_or_else(|| {
        let what = if let Some(s) = &c.status {
            format!(
                "status in {}",
                s.iter()
                    .map(|r| match r {
                        StatusRange::One(x) => x.to_string(),
                        StatusRange::Range([a, b]) => format!("{a}-{b}"),
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            )
        } else if let Some(h) = &c.header {
            format!("has header {h}")
        } else if let Some(b) = &c.body_contains {
            format!("body contains {b}")
        } else if let Some(p) = &c.json {
            format!("json {p}")
        } else {
            format!("check {j}")
        };
        format!("{request_name}: {what}")
    });
    let id = ids.next_check;
    ids.next_check = ids.next_check.checked_add(1).ok_or("too many checks")?;
    Ok(CompiledCheck {
        id,
        name,
        status: c.status.clone(),
        header,
        body_contains: c.body_contains.clone(),
        json: c.json.clone(),
        equals: c.equals.clone(),
    })
}

fn openai_body(o: &OpenAiSpec) -> Bytes {
    let mut v = match o.api {
        OpenAiApi::Chat => serde_json::json!({
            "model": o.model,
            "messages": [{"role": "user", "content": o.prompt}],
        }),
        OpenAiApi::Completions => serde_json::json!({"model": o.model, "prompt": o.prompt}),
    };
    if let Some(m) = o.max_tokens {
        v["max_tokens"] = m.into();
    }
    if o.stream {
        v["stream"] = true.into();
        // OpenAI only reports usage on a stream when asked to.
        v["stream_options"] = serde_json::json!({"include_usage": true});
    }
    Bytes::from(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [String]) -> Env<'a> {
        Env {
            vu: 3,
            iter: 7,
            scenario: "s",
            step: "2",
            vars,
            token: Some("secret"),
        }
    }

    #[test]
    fn templates_fill_builtins_and_vars() {
        let names = vec!["svc".to_owned()];
        let t = Template::parse(
            "http://h/{{svc}}?vu={{ vu }}&i={{iter}}&s={{step}}",
            &names,
            false,
        )
        .unwrap();
        assert_eq!(t.render(&env(&["4".into()])), "http://h/4?vu=3&i=7&s=2");
        assert!(Template::parse("{{nope}}", &names, false).is_err());
        assert!(Template::parse("x{{token}}", &names, false).is_err());
        let h = Template::parse("Key {{token}}", &names, true).unwrap();
        assert_eq!(h.render(&env(&[])), "Key secret");
        assert!(Template::parse("{{vu", &names, false).is_err());
    }

    #[test]
    fn checks_status_header_body_json() {
        let mut ids = Ids {
            next_request: 0,
            next_check: 0,
        };
        let c = compile_check(
            &Check {
                name: None,
                status: Some(vec![StatusRange::One(200)]),
                header: None,
                body_contains: None,
                json: Some("/a/0".into()),
                equals: Some(1.into()),
            },
            "r",
            0,
            &mut ids,
        )
        .unwrap();
        assert_eq!(c.name, "r: status in 200");
        let mut j = None;
        assert!(c.passes(200, None, br#"{"a":[1]}"#, &mut j));
        let mut j = None;
        assert!(!c.passes(200, None, br#"{"a":[2]}"#, &mut j));
        let mut j = None;
        assert!(!c.passes(500, None, br#"{"a":[1]}"#, &mut j));
        assert!(!c.passes(0, None, b"", &mut None));
    }
}
