use proc_macro2::{Delimiter, Literal, Span, TokenStream, TokenTree};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{
    Attribute, Expr, ExprLit, GenericArgument, Ident, ItemFn, Lit, LitStr, Meta, PathArguments,
    ReturnType, Token, Type,
};

const ERRORS_HEADING: &str = "# Errors";

/// `method, "path", other utoipa arguments…`
struct Args {
    method: Ident,
    path: LitStr,
    params: TokenStream,
    responses: TokenStream,
    passthrough: Vec<TokenStream>,
}

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let method: Ident = input.parse()?;
        input.parse::<Token![,]>()?;
        let path: LitStr = input.parse()?;
        let mut args = Args {
            method,
            path,
            params: TokenStream::new(),
            responses: TokenStream::new(),
            passthrough: Vec::new(),
        };
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            let mut argument = Vec::new();
            while !input.is_empty() && !input.peek(Token![,]) {
                argument.push(input.parse::<TokenTree>()?);
            }
            match argument.as_slice() {
                [TokenTree::Ident(name), TokenTree::Group(list)]
                    if list.delimiter() == Delimiter::Parenthesis
                        && (name == "params" || name == "responses") =>
                {
                    let inner = without_trailing_comma(list.stream());
                    if name == "params" {
                        args.params = inner;
                    } else {
                        args.responses = inner;
                    }
                }
                [] => {}
                _ => args.passthrough.push(argument.into_iter().collect()),
            }
        }
        Ok(args)
    }
}

pub fn route(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args: Args = syn::parse2(args)?;
    let mut item: ItemFn = syn::parse2(item)?;
    let errors = take_errors_section(&mut item.attrs)?;

    let declared = declared_statuses(&args.responses);
    for (refusal, span) in &errors {
        if declared.contains(&refusal.code.to_string()) {
            return Err(syn::Error::new(
                *span,
                format!("status {} is declared in `responses(…)` too", refusal.code),
            ));
        }
    }

    let mut responses = Vec::new();
    if !declared.iter().any(|status| status.starts_with('2')) {
        // A type in `responses(…)` (an `IntoResponses`: a shared refusal set, or the health
        // route's own answers) may carry the success where the return type cannot tell it.
        let names_a_type = args
            .responses
            .clone()
            .into_iter()
            .any(|tree| matches!(tree, TokenTree::Ident(_)));
        match success_from(&item.sig.output) {
            Ok(success) => responses.push(success),
            Err(_) if names_a_type => {}
            Err(unreadable) => return Err(unreadable),
        }
    }
    if !args.responses.is_empty() {
        responses.push(args.responses.clone());
    }
    for (refusal, _) in &errors {
        let code = Literal::u16_unsuffixed(refusal.code);
        let why = &refusal.description;
        responses.push(quote!((status = #code, description = #why)));
    }

    let mut params = Vec::new();
    if !args.params.is_empty() {
        params.push(args.params.clone());
    }
    for name in template_names(&args.path.value()) {
        if !names_parameter(&args.params, &name) {
            let description = describe_parameter(&args.path.value(), &name);
            params.push(quote!((#name = String, Path, description = #description)));
        }
    }
    let params = (!params.is_empty()).then(|| quote!(params(#(#params),*),));

    let Args {
        method,
        path,
        passthrough,
        ..
    } = args;
    Ok(quote! {
        #[::utoipa::path(#method, path = #path, #(#passthrough,)* #params responses(#(#responses),*))]
        #item
    })
}

/// One bullet of `# Errors`: `- 409: why`, possibly continued on the lines below.
struct Refusal {
    code: u16,
    description: String,
}

/// Removes the doc comment's `# Errors` section (up to the next heading) and reads its bullets.
fn take_errors_section(attrs: &mut Vec<Attribute>) -> syn::Result<Vec<(Refusal, Span)>> {
    let docs: Vec<(usize, String)> = attrs
        .iter()
        .enumerate()
        .filter_map(|(i, attr)| doc_line(attr).map(|line| (i, line)))
        .collect();
    let Some(heading) = docs
        .iter()
        .position(|(_, line)| line.trim() == ERRORS_HEADING)
    else {
        return Ok(Vec::new());
    };
    let heading_span = span_of(&attrs[docs[heading].0]);
    let section: Vec<&(usize, String)> = docs[heading + 1..]
        .iter()
        .take_while(|(_, line)| !line.trim_start().starts_with('#'))
        .collect();

    let mut refusals: Vec<(Refusal, Span)> = Vec::new();
    for (index, line) in &section {
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let span = span_of(&attrs[*index]);
        if let Some(bullet) = text.strip_prefix("- ") {
            let (status, why) = bullet.split_once(':').ok_or_else(|| {
                syn::Error::new(
                    span,
                    "an `# Errors` bullet reads `- 409: why it is refused`",
                )
            })?;
            let status = status.trim();
            let code = status
                .parse::<u16>()
                .ok()
                .filter(|code| status.len() == 3 && (400..600).contains(code))
                .ok_or_else(|| {
                    syn::Error::new(
                        span,
                        format!("`{status}` is not an error status (400 to 599)"),
                    )
                })?;
            if refusals.iter().any(|(r, _)| r.code == code) {
                return Err(syn::Error::new(
                    span,
                    format!("status {status} is listed twice"),
                ));
            }
            refusals.push((
                Refusal {
                    code,
                    description: why.trim().to_owned(),
                },
                span,
            ));
        } else if let Some((last, _)) = refusals.last_mut() {
            last.description.push(' ');
            last.description.push_str(text);
        } else {
            return Err(syn::Error::new(
                span,
                "`# Errors` starts with a `- status: why` bullet",
            ));
        }
    }
    if refusals.is_empty() {
        return Err(syn::Error::new(heading_span, "`# Errors` lists no status"));
    }

    // The section leaves the description, with the blank line that set it apart.
    let mut removed: Vec<usize> = std::iter::once(docs[heading].0)
        .chain(section.iter().map(|(i, _)| *i))
        .collect();
    if heading > 0 && docs[heading - 1].1.trim().is_empty() {
        removed.push(docs[heading - 1].0);
    }
    *attrs = std::mem::take(attrs)
        .into_iter()
        .enumerate()
        .filter(|(index, _)| !removed.contains(index))
        .map(|(_, attr)| attr)
        .collect();
    Ok(refusals)
}

fn doc_line(attr: &Attribute) -> Option<String> {
    if !attr.path().is_ident("doc") {
        return None;
    }
    match &attr.meta {
        Meta::NameValue(pair) => match &pair.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(text),
                ..
            }) => Some(text.value()),
            _ => None,
        },
        _ => None,
    }
}

fn span_of(attr: &Attribute) -> Span {
    attr.pound_token.span
}

/// The statuses `responses(…)` declares itself: `(status = 200, …)` or `(status = "2XX", …)`.
fn declared_statuses(responses: &TokenStream) -> Vec<String> {
    responses
        .clone()
        .into_iter()
        .filter_map(|tree| match tree {
            TokenTree::Group(group) if group.delimiter() == Delimiter::Parenthesis => {
                let tokens: Vec<TokenTree> = group.stream().into_iter().take(3).collect();
                match tokens.as_slice() {
                    [
                        TokenTree::Ident(key),
                        TokenTree::Punct(eq),
                        TokenTree::Literal(status),
                    ] if key == "status" && eq.as_char() == '=' => {
                        Some(status.to_string().trim_matches('"').to_owned())
                    }
                    _ => None,
                }
            }
            _ => None,
        })
        .collect()
}

/// The success response `ApiResult<…>` promises.
fn success_from(output: &ReturnType) -> syn::Result<TokenStream> {
    let cannot_tell = |spanned: &dyn quote::ToTokens| {
        syn::Error::new_spanned(
            spanned,
            "#[route] reads the success response from `ApiResult<Json<T>>`, `ApiResult<Created<T>>`, \
             `ApiResult<Accepted<T>>` or `ApiResult<NoContent>`; declare any other in `responses(…)`",
        )
    };
    let ReturnType::Type(_, returned) = output else {
        return Err(cannot_tell(output));
    };
    let ok = last_segment(returned)
        .filter(|(name, _)| name == "ApiResult")
        .and_then(|(_, args)| args.into_iter().next())
        .ok_or_else(|| cannot_tell(returned))?;
    match last_segment(&ok) {
        Some((name, args)) if name == "Json" && args.len() == 1 => {
            let body = &args[0];
            Ok(quote!((status = 200, description = "OK", body = #body)))
        }
        Some((name, args)) if name == "Created" && args.len() == 1 => {
            let body = &args[0];
            Ok(quote!((status = 201, description = "Created", body = #body)))
        }
        Some((name, args)) if name == "Accepted" && args.len() == 1 => {
            let body = &args[0];
            Ok(quote!((status = 202, description = "Accepted", body = #body)))
        }
        Some((name, args)) if name == "NoContent" && args.is_empty() => Ok(quote!((
            status = 204,
            description = "Done; nothing to return"
        ))),
        _ => Err(cannot_tell(&ok)),
    }
}

/// A type path's last segment and its type arguments: `ApiResult<Json<T>>` → (`ApiResult`, [`Json<T>`]).
fn last_segment(ty: &Type) -> Option<(String, Vec<Type>)> {
    let Type::Path(path) = ty else { return None };
    let segment = path.path.segments.last()?;
    let args = match &segment.arguments {
        PathArguments::AngleBracketed(list) => list
            .args
            .iter()
            .filter_map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Some((segment.ident.to_string(), args))
}

/// `/conversations/{id}/messages/{mid}` → `id`, `mid`.
fn template_names(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_owned)
        .collect()
}

/// Whether `params(…)` already has a tuple for `name` (`("id" = String, Path, …)`).
fn names_parameter(params: &TokenStream, name: &str) -> bool {
    let quoted = format!("{name:?}");
    params.clone().into_iter().any(|tree| match tree {
        TokenTree::Group(group) => group
            .stream()
            .into_iter()
            .next()
            .is_some_and(|first| first.to_string() == quoted),
        _ => false,
    })
}

/// `/admin/users/{id}` → "The user's id"; any other name reads as itself.
fn describe_parameter(path: &str, name: &str) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    let placeholder = format!("{{{name}}}");
    let owner = segments
        .iter()
        .position(|segment| *segment == placeholder)
        .and_then(|at| at.checked_sub(1))
        .map(|before| segments[before])
        .filter(|owner| !owner.is_empty() && !owner.starts_with('{'));
    match owner {
        Some(owner) if name == "id" => {
            let singular = owner.strip_suffix('s').unwrap_or(owner).replace('-', " ");
            format!("The {singular}'s id, as listed")
        }
        _ => format!("The {}", name.replace('_', " ")),
    }
}

fn without_trailing_comma(stream: TokenStream) -> TokenStream {
    let mut trees: Vec<TokenTree> = stream.into_iter().collect();
    if matches!(trees.last(), Some(TokenTree::Punct(p)) if p.as_char() == ',') {
        trees.pop();
    }
    trees.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(args: TokenStream, item: TokenStream) -> String {
        route(args, item)
            .map(|t| t.to_string())
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    fn squash(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn a_json_answer_becomes_a_200_with_its_body_and_the_id_a_described_path_parameter() {
        let out = expand(
            quote!(get, "/profiles/{id}", tag = "profiles"),
            quote!(
                async fn get_profile(caller: Caller) -> ApiResult<Json<Profile>> {}
            ),
        );
        let out = squash(&out);
        assert!(
            out.contains(
                "# [:: utoipa :: path (get , path = \"/profiles/{id}\" , tag = \"profiles\" ,"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "params ((\"id\" = String , Path , description = \"The profile's id, as listed\"))"
            ),
            "{out}"
        );
        assert!(
            out.contains("(status = 200 , description = \"OK\" , body = Profile)"),
            "{out}"
        );
    }

    #[test]
    fn created_accepted_and_no_content_answers_become_201_202_and_204() {
        let created = expand(
            quote!(post, "/profiles", tag = "profiles"),
            quote!(
                async fn create(c: Caller) -> ApiResult<Created<Profile>> {}
            ),
        );
        assert!(
            squash(&created).contains("status = 201 , description = \"Created\" , body = Profile"),
            "{created}"
        );
        let accepted = expand(
            quote!(post, "/documents/reindex", tag = "documents"),
            quote!(
                async fn reindex(c: Caller) -> ApiResult<Accepted<Progress>> {}
            ),
        );
        assert!(
            squash(&accepted)
                .contains("status = 202 , description = \"Accepted\" , body = Progress"),
            "{accepted}"
        );
        let deleted = expand(
            quote!(delete, "/profiles/{id}", tag = "profiles"),
            quote!(
                async fn delete(c: Caller) -> ApiResult<NoContent> {}
            ),
        );
        assert!(squash(&deleted).contains("status = 204"), "{deleted}");
        assert!(!squash(&deleted).contains("body ="), "{deleted}");
    }

    #[test]
    fn the_errors_section_becomes_responses_and_leaves_the_description() {
        let item = quote! {
            /// Deletes a profile.
            ///
            /// # Errors
            /// - 409: other profiles
            ///   inherit from it
            /// - 429: too many; see `Retry-After`
            async fn delete(c: Caller) -> ApiResult<NoContent> {}
        };
        let out = squash(&expand(
            quote!(delete, "/profiles/{id}", tag = "profiles"),
            item,
        ));
        assert!(
            out.contains("(status = 409 , description = \"other profiles inherit from it\")"),
            "{out}"
        );
        assert!(
            out.contains("(status = 429 , description = \"too many; see `Retry-After`\")"),
            "{out}"
        );
        assert!(out.contains("Deletes a profile."), "{out}");
        assert!(!out.contains("# Errors"), "{out}");
        assert!(
            !out.contains("inherit from it\"]"),
            "the bullets left the doc comment: {out}"
        );
        // The blank line before the heading goes with it: one doc line is left.
        assert_eq!(out.matches("# [doc =").count(), 1, "{out}");
    }

    #[test]
    fn a_declared_success_replaces_the_one_read_from_the_type() {
        let out = squash(&expand(
            quote!(
                post,
                "/x",
                tag = "t",
                responses((
                    status = 200,
                    description = "A stream",
                    content_type = "text/event-stream"
                ),)
            ),
            quote!(
                async fn send(c: Caller) -> ApiResult<EventStream> {}
            ),
        ));
        assert!(
            out.contains("responses ((status = 200 , description = \"A stream\""),
            "{out}"
        );
        assert!(!out.contains("\"OK\""), "{out}");
    }

    #[test]
    fn a_declared_path_parameter_keeps_its_own_words_and_others_pass_through() {
        let out = squash(&expand(
            quote!(
                post,
                "/conversations/{id}/messages/{mid}/regenerate",
                tag = "chat",
                params((
                    "mid" = String,
                    Path,
                    description = "the answer to regenerate"
                )),
                security(())
            ),
            quote!(
                async fn regenerate(c: Caller) -> ApiResult<Json<Message>> {}
            ),
        ));
        assert!(out.contains("\"the answer to regenerate\""), "{out}");
        assert!(
            out.contains(
                "(\"id\" = String , Path , description = \"The conversation's id, as listed\")"
            ),
            "{out}"
        );
        assert_eq!(out.matches("\"mid\"").count(), 1, "{out}");
        assert!(out.contains("security (())"), "{out}");
    }

    #[test]
    fn a_responses_type_declares_its_own_success() {
        let out = squash(&expand(
            quote!(
                get,
                "/users/health",
                tag = "health",
                responses(HealthAnswers)
            ),
            quote!(
                async fn health() {}
            ),
        ));
        assert!(out.contains("responses (HealthAnswers)"), "{out}");
    }

    #[test]
    fn a_refusal_set_in_responses_keeps_the_success_read_from_the_type() {
        let out = squash(&expand(
            quote!(get, "/auth/sessions", tag = "auth", responses(SessionOnly)),
            quote!(
                async fn list(c: Caller) -> ApiResult<Json<ListPage<Session>>> {}
            ),
        ));
        assert!(out.contains("responses ((status = 200 , description = \"OK\" , body = ListPage < Session >) , SessionOnly)"), "{out}");
    }

    #[test]
    fn a_type_it_cannot_read_asks_for_a_declared_success() {
        let out = expand(
            quote!(get, "/x", tag = "t"),
            quote!(
                async fn raw(c: Caller) -> ApiResult<Response> {}
            ),
        );
        assert!(
            out.starts_with("error: #[route] reads the success response"),
            "{out}"
        );
    }

    #[test]
    fn a_malformed_or_repeated_bullet_is_a_compile_error() {
        let cases = [
            (
                quote! { /// # Errors
                /// - 4O9: typo
                async fn f() -> ApiResult<NoContent> {} },
                "is not an error status",
            ),
            (
                quote! { /// # Errors
                /// - 200: fine
                async fn f() -> ApiResult<NoContent> {} },
                "is not an error status",
            ),
            (
                quote! { /// # Errors
                /// - 409 no colon
                async fn f() -> ApiResult<NoContent> {} },
                "bullet reads",
            ),
            (
                quote! { /// # Errors
                /// - 409: one
                /// - 409: two
                async fn f() -> ApiResult<NoContent> {} },
                "listed twice",
            ),
            (
                quote! { /// # Errors
                async fn f() -> ApiResult<NoContent> {} },
                "lists no status",
            ),
        ];
        for (item, expected) in cases {
            let out = expand(quote!(get, "/x", tag = "t"), item);
            assert!(
                out.starts_with("error: ") && out.contains(expected),
                "{expected}: {out}"
            );
        }
    }

    #[test]
    fn a_status_in_both_the_errors_section_and_responses_is_refused() {
        let out = expand(
            quote!(
                get,
                "/x",
                tag = "t",
                responses((status = 429, description = "throttled", body = Problem))
            ),
            quote! { /// # Errors
            /// - 429: again
            async fn f() -> ApiResult<NoContent> {} },
        );
        assert!(out.contains("declared in `responses(…)` too"), "{out}");
    }

    #[test]
    fn a_later_heading_ends_the_errors_section() {
        let out = squash(&expand(
            quote!(get, "/x", tag = "t"),
            quote! { /// Summary.
            ///
            /// # Errors
            /// - 409: taken
            /// # Notes
            /// Kept.
            async fn f() -> ApiResult<NoContent> {} },
        ));
        assert!(
            out.contains("\" # Notes\"") && out.contains("\" Kept.\""),
            "{out}"
        );
    }
}
