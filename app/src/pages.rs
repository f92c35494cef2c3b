//! The full-stack app's pages.

use leptos::prelude::*;

use crate::bell::{BellClient, BellEvent, NotificationBell};
use crate::page_data::{self, PageData};

/// `/`: a header with the signed-in user's bell, rendered with their first page.
#[component]
pub fn HomePage() -> impl IntoView {
    let data = Resource::new_serde_wb(|| (), |_| page_data::load());

    view! {
        <Suspense fallback=|| ()>
            {move || data.get().map(|data| view! {
                <header class="belfry-header">
                    <h1 class="belfry-brand">"Belfry"</h1>
                    <HeaderBell data=data.clone()/>
                </header>
                <main class="belfry-main">
                    <p>"Real-time notifications over Server-Sent Events."</p>
                    {data.dev.then(|| view! { <DemoPanel user=data.user.clone()/> })}
                </main>
            })}
        </Suspense>
    }
}

#[component]
fn HeaderBell(data: PageData) -> impl IntoView {
    // This page's callback for the bell: a named action is the page's to do; this page has
    // nothing to do for one, so it confirms it at once (a host page would call its own code
    // first, then `done`).
    let on_event = Callback::new(|event: BellEvent| {
        if let BellEvent::Action { done, .. } = event {
            done.run(());
        }
    });
    match data.snapshot {
        Some(snapshot) => view! {
            <span class="belfry-user">{format!("user {}", data.user.clone().unwrap_or_default())}</span>
            <NotificationBell client=BellClient::same_origin_for(data.user) initial=snapshot now_millis=data.now_millis on_event/>
        }
        .into_any(),
        None => view! { <span class="belfry-user">"Not signed in"</span> }.into_any(),
    }
}

/// Demo mode only: sign in as a demo user, send one a notification.
#[component]
fn DemoPanel(user: Option<String>) -> impl IntoView {
    let demo_users = ["1", "2", "3"];
    let sent = RwSignal::new(None::<String>);
    view! {
        <section class="belfry-demo" aria-labelledby="demo-title">
            <h2 id="demo-title">"Demo mode"</h2>
            <p>"Sign in as a demo user (a cookie holds the token), then send yourself a notification: it arrives in the bell without a reload."</p>
            <div class="belfry-demo__users">
                {demo_users.map(|id| view! {
                    <form method="post" action="/dev/sign-in">
                        <input type="hidden" name="user" value=id/>
                        <button type="submit" data-testid=format!("sign-in-{id}")>{format!("Sign in as user {id}")}</button>
                    </form>
                })}
            </div>
            <form class="belfry-demo__send" method="post" action="/dev/send" on:submit=move |event| send(event, sent)>
                <label>"To user " <input name="user" value=user.unwrap_or_else(|| "1".to_owned()) size="6" required/></label>
                <label>"Message " <input name="message" value="Your order has shipped" required maxlength="2000"/></label>
                <label>"Link " <input name="link" value="/" /></label>
                <button type="submit" data-testid="send">"Send a test notification"</button>
                <span role="status">{move || sent.get()}</span>
            </form>
        </section>
    }
}

/// Sends the demo form in the background (so the page, and its live bell, stay open); without
/// WASM the form posts normally.
fn send(event: leptos::ev::SubmitEvent, sent: RwSignal<Option<String>>) {
    #[cfg(feature = "browser")]
    {
        use leptos::wasm_bindgen::JsCast;
        event.prevent_default();
        let Some(form) = event
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())
        else {
            return;
        };
        let field = |name: &str| {
            form.elements()
                .named_item(name)
                .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
                .map(|input| input.value())
                .unwrap_or_default()
        };
        #[derive(serde::Serialize)]
        struct Send {
            user: String,
            message: String,
            link: String,
        }
        let body = crate::json::to_string(&Send {
            user: field("user"),
            message: field("message"),
            link: field("link"),
        })
        .unwrap_or_default();
        leptos::task::spawn_local(async move {
            let response = gloo_net::http::Request::post("/dev/send")
                .header("Content-Type", "application/json")
                .body(body);
            let outcome = match response {
                Ok(request) => match request.send().await {
                    Ok(r) if r.ok() => "Sent.".to_owned(),
                    Ok(r) => format!("Not sent: {}", r.text().await.unwrap_or_default()),
                    Err(err) => format!("Not sent: {err}"),
                },
                Err(err) => format!("Not sent: {err}"),
            };
            sent.set(Some(outcome));
        });
    }
    #[cfg(not(feature = "browser"))]
    let _ = (event, sent);
}
