//! Publish/subscribe: SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB.
//!
//! A message is encoded once per receiving client (RESP2 array or RESP3 push, depending on
//! that client) and sent through the client's channel. PUBLISH is propagated to replicas
//! (Redis does, so subscribers on replicas hear it) but never written to the AOF.

use super::client::{Client, ClientMsg};
use super::{Ctx, Handler};
use crate::resp::Reply;
use bytes::Bytes;
use indexmap::{IndexMap, IndexSet};

/// Who listens to what.
#[derive(Debug, Default)]
pub struct PubSub {
    pub channels: IndexMap<Bytes, IndexSet<u64>>,
    pub patterns: IndexMap<Bytes, IndexSet<u64>>,
}

impl PubSub {
    pub fn unsubscribe_all(&mut self, client: &mut Client) {
        for ch in client.channels.drain() {
            if let Some(s) = self.channels.get_mut(&ch) {
                s.shift_remove(&client.id);
                if s.is_empty() {
                    self.channels.shift_remove(&ch);
                }
            }
        }
        for p in client.patterns.drain() {
            if let Some(s) = self.patterns.get_mut(&p) {
                s.shift_remove(&client.id);
                if s.is_empty() {
                    self.patterns.shift_remove(&p);
                }
            }
        }
    }
}

pub const HANDLERS: &[(&str, Handler)] = &[
    ("subscribe", subscribe),
    ("unsubscribe", unsubscribe),
    ("psubscribe", psubscribe),
    ("punsubscribe", punsubscribe),
    ("publish", publish),
    ("pubsub", pubsub),
];

fn sync_counts(ctx: &mut Ctx) {
    let (s, p) = (ctx.client.channels.len(), ctx.client.patterns.len());
    if let Some(info) = ctx.engine.clients.get_mut(&ctx.client.id) {
        info.sub = s;
        info.psub = p;
    }
}

fn confirm(out: &mut Reply, kind: &[u8], name: Option<&[u8]>, count: usize) {
    out.push(3);
    out.bulk(kind);
    match name {
        Some(n) => out.bulk(n),
        None => out.null(),
    }
    out.int(count as i64);
}

fn subscribe(ctx: &mut Ctx, argv: &[&[u8]]) {
    for ch in &argv[1..] {
        let ch = Bytes::copy_from_slice(ch);
        if ctx.client.channels.insert(ch.clone()) {
            ctx.engine
                .pubsub
                .channels
                .entry(ch.clone())
                .or_default()
                .insert(ctx.client.id);
        }
        let n = ctx.client.subscriptions();
        confirm(ctx.out, b"subscribe", Some(&ch), n);
    }
    sync_counts(ctx);
}

fn psubscribe(ctx: &mut Ctx, argv: &[&[u8]]) {
    for p in &argv[1..] {
        let p = Bytes::copy_from_slice(p);
        if ctx.client.patterns.insert(p.clone()) {
            ctx.engine
                .pubsub
                .patterns
                .entry(p.clone())
                .or_default()
                .insert(ctx.client.id);
        }
        let n = ctx.client.subscriptions();
        confirm(ctx.out, b"psubscribe", Some(&p), n);
    }
    sync_counts(ctx);
}

fn unsubscribe_generic(ctx: &mut Ctx, argv: &[&[u8]], pattern: bool) {
    let kind: &[u8] = if pattern {
        b"punsubscribe"
    } else {
        b"unsubscribe"
    };
    let names: Vec<Bytes> = if argv.len() > 1 {
        argv[1..]
            .iter()
            .map(|a| Bytes::copy_from_slice(a))
            .collect()
    } else if pattern {
        ctx.client.patterns.iter().cloned().collect()
    } else {
        ctx.client.channels.iter().cloned().collect()
    };
    if names.is_empty() {
        let n = ctx.client.subscriptions();
        confirm(ctx.out, kind, None, n);
    }
    for name in names {
        let (mine, registry) = if pattern {
            (&mut ctx.client.patterns, &mut ctx.engine.pubsub.patterns)
        } else {
            (&mut ctx.client.channels, &mut ctx.engine.pubsub.channels)
        };
        if mine.remove(&name)
            && let Some(s) = registry.get_mut(&name)
        {
            s.shift_remove(&ctx.client.id);
            if s.is_empty() {
                registry.shift_remove(&name);
            }
        }
        let n = ctx.client.subscriptions();
        confirm(ctx.out, kind, Some(&name), n);
    }
    sync_counts(ctx);
}

fn unsubscribe(ctx: &mut Ctx, argv: &[&[u8]]) {
    unsubscribe_generic(ctx, argv, false)
}

fn punsubscribe(ctx: &mut Ctx, argv: &[&[u8]]) {
    unsubscribe_generic(ctx, argv, true)
}

/// Deliver a message to every subscriber of the channel and of matching patterns; returns
/// how many received it.
pub fn publish_message(engine: &mut super::Engine, channel: &[u8], msg: &[u8]) -> i64 {
    let mut n = 0;
    if let Some(ids) = engine.pubsub.channels.get(channel) {
        for id in ids {
            if let Some(info) = engine.clients.get(id) {
                let mut r = Reply::new(info.resp == 3);
                r.push(3);
                r.bulk(b"message");
                r.bulk(channel);
                r.bulk(msg);
                let _ = info.tx.send(ClientMsg::Push(r.buf.freeze()));
                n += 1;
            }
        }
    }
    for (pat, ids) in &engine.pubsub.patterns {
        if !crate::glob::matches(pat, channel, false) {
            continue;
        }
        for id in ids {
            if let Some(info) = engine.clients.get(id) {
                let mut r = Reply::new(info.resp == 3);
                r.push(4);
                r.bulk(b"pmessage");
                r.bulk(pat);
                r.bulk(channel);
                r.bulk(msg);
                let _ = info.tx.send(ClientMsg::Push(r.buf.freeze()));
                n += 1;
            }
        }
    }
    n
}

fn publish(ctx: &mut Ctx, argv: &[&[u8]]) {
    let n = publish_message(ctx.engine, argv[1], argv[2]);
    ctx.out.int(n);
    // Replicas get every PUBLISH (Redis propagates it with PROPAGATE_REPL only).
    ctx.propagate_as(vec![
        argv.iter().map(|a| Bytes::copy_from_slice(a)).collect(),
    ]);
}

fn pubsub(ctx: &mut Ctx, argv: &[&[u8]]) {
    let sub = argv[1].to_ascii_lowercase();
    match sub.as_slice() {
        b"channels" => {
            let pat = argv.get(2).copied();
            let names: Vec<Bytes> = ctx
                .engine
                .pubsub
                .channels
                .keys()
                .filter(|c| pat.is_none_or(|p| crate::glob::matches(p, c, false)))
                .cloned()
                .collect();
            ctx.out.array(names.len());
            for c in names {
                ctx.out.bulk(&c);
            }
        }
        b"numsub" => {
            ctx.out.map(argv.len() - 2);
            for ch in &argv[2..] {
                ctx.out.bulk(ch);
                let n = ctx
                    .engine
                    .pubsub
                    .channels
                    .get(*ch)
                    .map(|s| s.len())
                    .unwrap_or(0);
                ctx.out.int(n as i64);
            }
        }
        b"numpat" => ctx.out.int(ctx.engine.pubsub.patterns.len() as i64),
        b"shardchannels" => ctx.out.array(0),
        b"shardnumsub" => {
            ctx.out.map(argv.len() - 2);
            for ch in &argv[2..] {
                ctx.out.bulk(ch);
                ctx.out.int(0);
            }
        }
        _ => super::server::help_reply(ctx, "PUBSUB", &[]),
    }
}
