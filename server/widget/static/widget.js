/*! Steadydesk visitor widget. Served by your Steadydesk server; no third-party code. */
(() => {
  'use strict';

  const VERSION = '1.0';
  const T0 = performance.now();
  const script = document.currentScript ||
    [...document.querySelectorAll('script[src][data-site]')].find((s) => /\/widget\.js([?#]|$)/.test(s.src));
  const siteKey = script && script.dataset.site;
  if (!siteKey) { console.warn('steadydesk: the widget script needs data-site="<site key>"'); return; }
  const loaded = (window.__steadydesk = window.__steadydesk || {});
  if (loaded[siteKey]) return; // the tag was included twice
  loaded[siteKey] = VERSION;

  // -- settings ----------------------------------------------------------------------
  const ORIGIN = new URL(script.src, location.href).origin;
  const WS_URL = ORIGIN.replace(/^http/, 'ws') + '/ws/visitor';
  const opt = script.dataset;
  const BODY_MAX_CHARS = 4000;
  const CACHE_MAX_MSGS = 300;
  const CONNECT_TIMEOUT_MS = 8000;
  const BACKOFF_BASE_MS = 500;
  const BACKOFF_MAX_MS = 15000;
  const BANNER_DELAY_MS = 2000; // brief drops do not flicker a banner
  const HEALTHY_AFTER_MS = 10000; // a connection this old resets the backoff
  const TYPING_IDLE_MS = 4000;
  const TYPING_RESEND_MS = 3000;
  const TYPING_SHOWN_MS = 8000; // the other side's indicator, unless refreshed
  const SYNC_PAGE = 200;
  // data-track="on": online while browsing (live monitor, invites; docs/widget.md)
  const TRACK = opt.track === 'on';

  // -- i18n --------------------------------------------------------------------------
  const STRINGS = {
    en: {
      open: 'Open chat', close: 'Close chat', title: 'Chat with us', subtitle: 'We are here to help',
      with: 'Chatting with {name}', end: 'End chat', endAsk: 'End this conversation?', endYes: 'End',
      cancel: 'Cancel', input: 'Message', placeholder: 'Type a message…', send: 'Send',
      sending: 'Sending…', seen: 'Seen', you: 'You', agent: 'Agent', bot: 'AI assistant', human: 'Talk to a person',
      typing: '{name} is typing…', connecting: 'Connecting…', reconnecting: 'Reconnecting…',
      offline: 'You are offline. Messages will be sent when you are back.',
      joined: '{name} joined the conversation', transferred: 'Your conversation was transferred',
      ended: 'Conversation ended', endedHint: 'Send a message to start a new conversation.',
      unavailable: 'Chat is not available on this site.', tooLong: 'Not sent: the message is too long.',
      refused: 'Not sent: the server refused this message.', dismiss: 'Dismiss',
      newMessage: 'New message', unread1: '1 unread message', unreadN: '{n} unread messages',
      hello: 'Hi! How can we help you today?', from: '{name}: {text}', messages: 'Messages',
    },
    'zh-CN': {
      open: '打开聊天', close: '关闭聊天', title: '在线客服', subtitle: '我们随时为您服务',
      with: '正在与 {name} 对话', end: '结束对话', endAsk: '确定结束本次对话吗？', endYes: '结束',
      cancel: '取消', input: '消息', placeholder: '输入消息…', send: '发送',
      sending: '发送中…', seen: '已读', you: '我', agent: '客服', bot: '智能助手', human: '转人工',
      typing: '{name} 正在输入…', connecting: '正在连接…', reconnecting: '正在重新连接…',
      offline: '网络已断开，恢复后消息会自动发送。',
      joined: '{name} 加入了对话', transferred: '您的对话已被转接',
      ended: '对话已结束', endedHint: '发送消息即可开始新的对话。',
      unavailable: '此网站暂不支持在线聊天。', tooLong: '未发送：消息太长。',
      refused: '未发送：服务器拒绝了这条消息。', dismiss: '关闭',
      newMessage: '新消息', unread1: '1 条未读消息', unreadN: '{n} 条未读消息',
      hello: '您好！请问有什么可以帮您？', from: '{name}：{text}', messages: '消息',
    },
    'zh-TW': {
      open: '開啟聊天', close: '關閉聊天', title: '線上客服', subtitle: '我們隨時為您服務',
      with: '正在與 {name} 對話', end: '結束對話', endAsk: '確定要結束這次對話嗎？', endYes: '結束',
      cancel: '取消', input: '訊息', placeholder: '輸入訊息…', send: '傳送',
      sending: '傳送中…', seen: '已讀', you: '我', agent: '客服', bot: '智慧助理', human: '轉真人客服',
      typing: '{name} 正在輸入…', connecting: '正在連線…', reconnecting: '正在重新連線…',
      offline: '網路已中斷，恢復後訊息會自動傳送。',
      joined: '{name} 加入了對話', transferred: '您的對話已被轉接',
      ended: '對話已結束', endedHint: '傳送訊息即可開始新的對話。',
      unavailable: '此網站暫不支援線上聊天。', tooLong: '未傳送：訊息太長。',
      refused: '未傳送：伺服器拒絕了這則訊息。', dismiss: '關閉',
      newMessage: '新訊息', unread1: '1 則未讀訊息', unreadN: '{n} 則未讀訊息',
      hello: '您好！請問有什麼可以幫您？', from: '{name}：{text}', messages: '訊息',
    },
  };
  // CSAT prompt strings, kept in their own block (see -- CSAT below).
  const CSAT_STRINGS = {
    en: {
      rateAsk: 'How was this conversation?', rateStar: '{n} of 5 stars', rateComment: 'Comment (optional)',
      rateSend: 'Send rating', rateThanks: 'Thanks for your feedback!', rated: 'You rated this conversation {n} of 5',
    },
    'zh-CN': {
      rateAsk: '您对本次服务满意吗？', rateStar: '{n} 星（共 5 星）', rateComment: '留言（可选）',
      rateSend: '提交评价', rateThanks: '感谢您的评价！', rated: '您给本次对话打了 {n} 星（共 5 星）',
    },
    'zh-TW': {
      rateAsk: '您對這次服務滿意嗎？', rateStar: '{n} 顆星（共 5 顆星）', rateComment: '留言（選填）',
      rateSend: '送出評價', rateThanks: '感謝您的評價！', rated: '您給這次對話 {n} 顆星（共 5 顆星）',
    },
  };
  for (const l in CSAT_STRINGS) Object.assign(STRINGS[l], CSAT_STRINGS[l]);
  // Issue #19: who took over, the length counter, the after-hours e-mail.
  const WALK_STRINGS = {
    en: {
      transferredTo: 'Your conversation was transferred to {name}', count: '{n} / {max}',
      tooLongCount: '{n} / {max} · too long to send, please shorten it',
      needEmail: 'Please enter your e-mail so we can reply.',
    },
    'zh-CN': {
      transferredTo: '您的对话已转接给 {name}', count: '{n} / {max}',
      tooLongCount: '{n} / {max} · 内容过长，无法发送，请删减', needEmail: '请填写电子邮箱，以便我们回复您。',
    },
    'zh-TW': {
      transferredTo: '您的對話已轉接給 {name}', count: '{n} / {max}',
      tooLongCount: '{n} / {max} · 內容過長，無法傳送，請刪減', needEmail: '請填寫電子郵件，以便我們回覆您。',
    },
  };
  for (const l in WALK_STRINGS) Object.assign(STRINGS[l], WALK_STRINGS[l]);
  const pickLang = (tag) => {
    tag = String(tag || '').toLowerCase();
    if (!tag.startsWith('zh')) return 'en';
    return /^zh-(tw|hk|mo|hant)/.test(tag) ? 'zh-TW' : 'zh-CN';
  };
  const LANG = pickLang(opt.lang || (navigator.languages && navigator.languages[0]) || navigator.language);
  const t = (key, vars) => (STRINGS[LANG][key] || STRINGS.en[key]).replace(/\{(\w+)\}/g, (_, k) => vars[k]);

  // -- storage: namespaced by site, in memory when localStorage is unavailable --------
  const NS = 'steadydesk:' + siteKey + ':';
  const memory = {};
  const store = {
    get(key, fallback) {
      try {
        const raw = localStorage.getItem(NS + key);
        return raw == null ? fallback : JSON.parse(raw);
      } catch (_) {
        return key in memory ? memory[key] : fallback;
      }
    },
    set(key, value) {
      try { localStorage.setItem(NS + key, JSON.stringify(value)); return true; } catch (_) { memory[key] = value; return false; }
    },
  };

  // Chat state, persisted: {visitor, uid, cur, order: [conv], convs: {conv: {cursor, read,
  // seen, closed, agent}}, msgs: [message], notes: [notice], failed: [failed send]}
  let S;
  const keyOf = (conv, seq) => conv + ':' + seq;
  let byKey = new Map();
  const loadState = () => {
    S = Object.assign({ order: [], convs: {}, msgs: [], notes: [], failed: [] }, store.get('chat', {}));
    byKey = new Map(S.msgs.map((m) => [keyOf(m.conv, m.seq), m]));
  };
  loadState();
  let outbox = store.get('outbox', []);
  let saveQueued = false, saved = '';
  const save = () => {
    if (saveQueued) return;
    saveQueued = true;
    queueMicrotask(() => {
      saveQueued = false;
      if (S.msgs.length > CACHE_MAX_MSGS) {
        S.msgs.splice(0, S.msgs.length - CACHE_MAX_MSGS);
        byKey = new Map(S.msgs.map((m) => [keyOf(m.conv, m.seq), m]));
      }
      const text = JSON.stringify(S);
      if (text !== saved) { saved = text; store.set('chat', S); }
    });
  };
  // The outbox is written synchronously, before anything is sent: a reload, a crash or a
  // closed tab never loses a typed message.
  const writeOutbox = (list) => { outbox = list; store.set('outbox', list); };
  const readOutbox = () => (outbox = store.get('outbox', outbox));

  const conv = (id) => {
    if (!S.convs[id]) {
      S.convs[id] = { cursor: 0, read: 0, seen: 0 };
      S.order.push(id);
    }
    return S.convs[id];
  };
  const uuid = () => {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    const x = [...b].map((v) => v.toString(16).padStart(2, '0')).join('');
    return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
  };

  // -- DOM helpers ---------------------------------------------------------------------
  const h = (tag, props, ...kids) => {
    const e = document.createElement(tag);
    for (const k in props) {
      const v = props[k];
      if (v == null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    e.append(...kids.filter((c) => c != null && c !== false));
    return e;
  };
  const ICONS = {
    chat: 'M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2zM6 9h12v2H6zm8 5H6v-2h8zm4-6H6V6h12z',
    close: 'M19 6.41 17.59 5 12 10.59 6.41 5 5 6.41 10.59 12 5 17.59 6.41 19 12 13.41 17.59 19 19 17.59 13.41 12z',
    down: 'M16.59 8.59 12 13.17 7.41 8.59 6 10l6 6 6-6z',
    send: 'M2.01 21 23 12 2.01 3 2 10l15 2-15 2z',
    clip: 'M16.5 6v11.5a4 4 0 0 1-8 0V5a2.5 2.5 0 0 1 5 0v10.5a1 1 0 0 1-2 0V6H10v9.5a2.5 2.5 0 0 0 5 0V5a4 4 0 0 0-8 0v12.5a5.5 5.5 0 0 0 11 0V6z',
  };
  const icon = (name, size) => {
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
    for (const [k, v] of [['viewBox', '0 0 24 24'], ['width', size], ['height', size], ['aria-hidden', 'true'], ['focusable', 'false']]) svg.setAttribute(k, v);
    path.setAttribute('d', ICONS[name]);
    path.setAttribute('fill', 'currentColor');
    svg.append(path);
    return svg;
  };

  // The server's `html` is the only markup ever taken from the wire. It is parsed in an
  // inert <template> and rebuilt from an allow-list (text, <br>, http(s)/mailto links),
  // as defence in depth on top of the server's own sanitiser.
  const XHTML = 'http://www.w3.org/1999/xhtml';
  const richText = (html, body) => {
    const out = document.createDocumentFragment();
    if (typeof html !== 'string') { out.append(String(body || '')); return out; }
    const tpl = document.createElement('template');
    try { tpl.innerHTML = html; } catch (_) { out.append(String(body || '')); return out; } // Trusted Types
    const copy = (from, to, inLink) => {
      for (const n of from.childNodes) {
        if (n.nodeType === 3) to.append(n.data);
        else if (n.nodeType !== 1 || n.namespaceURI !== XHTML) continue; // no SVG, no MathML
        else if (n.localName === 'br') to.append(h('br'));
        else if (n.localName === 'a' && !inLink && /^(https?:|mailto:)/i.test(n.getAttribute('href') || '')) {
          const a = h('a', { href: n.getAttribute('href'), target: '_blank', rel: 'nofollow noopener noreferrer' });
          copy(n, a, true);
          to.append(a);
        } else if (!/^(script|style|template)$/.test(n.localName)) copy(n, to, inLink);
      }
    };
    copy(tpl.content, out, false);
    return out;
  };

  const STYLE = `
:host{all:initial!important;display:block!important;position:static!important;visibility:visible!important;opacity:1!important;pointer-events:auto!important}
.root{--accent:#2456d6;--on-accent:#fff;--bg:#fff;--fg:#1d2330;--muted:#5a6376;--bubble:#eef1f6;--line:#d9dee7;--err:#b3261e;
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Helvetica Neue",Arial,"PingFang SC","Microsoft YaHei",sans-serif;color:var(--fg);text-align:left}
*,*::before,*::after{box-sizing:border-box}
[hidden]{display:none!important}
button{font:inherit;color:inherit;margin:0;cursor:pointer}
button:focus-visible,a:focus-visible,textarea:focus-visible,.log:focus-visible{outline:3px solid #f5b400;outline-offset:2px}
.sr{position:absolute;width:1px;height:1px;margin:-1px;padding:0;border:0;overflow:hidden;clip:rect(0 0 0 0);clip-path:inset(50%);white-space:nowrap}
.launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:60px;height:60px;padding:0;border:0;border-radius:50%;
background:var(--accent);color:var(--on-accent);box-shadow:0 6px 18px rgba(15,23,42,.28);display:flex;align-items:center;justify-content:center;transition:transform .15s}
.launcher:hover{transform:scale(1.05)}
.left .launcher{right:auto;left:20px}
.badge{position:absolute;top:-3px;right:-3px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#d93025;color:#fff;
font-size:12px;font-weight:700;line-height:22px;text-align:center;box-shadow:0 0 0 2px #fff}
.panel{position:fixed;right:20px;bottom:92px;z-index:2147483000;width:380px;height:min(620px,calc(100vh - 112px));min-height:320px;
display:flex;flex-direction:column;background:var(--bg);border-radius:16px;box-shadow:0 12px 48px rgba(15,23,42,.28);overflow:hidden;overflow:clip}
.left .panel{right:auto;left:20px}
header{display:flex;align-items:center;gap:4px;padding:12px 8px 12px 18px;background:var(--accent);color:var(--on-accent)}
.hgroup{flex:1;min-width:0}
.avatar{flex:none;width:34px;height:34px;margin-right:8px;border-radius:50%;background:rgba(255,255,255,.22);display:flex;align-items:center;justify-content:center;font-size:13px;font-weight:700}
.count{padding:0 16px 2px;font-size:12px;color:var(--muted);text-align:right}
.count.over{color:var(--err);font-weight:600}
h2{margin:0;font-size:17px;font-weight:650;line-height:1.3}
.sub{margin:1px 0 0;font-size:13px;opacity:.92;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.icon{width:40px;height:40px;padding:0;border:0;border-radius:10px;background:transparent;display:flex;align-items:center;justify-content:center;flex:none}
.icon:hover,.text:hover{background:rgba(255,255,255,.16)}
.text{height:34px;padding:0 10px;border:1px solid rgba(255,255,255,.55);border-radius:9px;background:transparent;font-size:13px;white-space:nowrap;flex:none}
.bar{display:flex;align-items:center;gap:8px;padding:8px 12px;font-size:13.5px;border-bottom:1px solid var(--line)}
.bar span{flex:1}
.bar button{padding:5px 12px;border-radius:8px;border:1px solid var(--line);background:var(--bg)}
.bar .danger{background:var(--err);border-color:var(--err);color:#fff}
.banner{padding:7px 12px;background:#fff4ce;color:#4d3a00;font-size:13px;text-align:center}
.log{position:relative;flex:1;margin:0;padding:14px 14px 6px;list-style:none;overflow-y:auto;overscroll-behavior:contain;display:flex;flex-direction:column;gap:10px}
.hello{align-self:flex-start;max-width:85%;padding:10px 14px;border-radius:16px 16px 16px 4px;background:var(--bubble)}
.msg{display:flex;flex-direction:column;align-items:flex-start;max-width:82%}
.msg.own{align-self:flex-end;align-items:flex-end}
.who{margin:0 6px 2px;font-size:12px;font-weight:600;color:var(--muted)}
.bubble{padding:8px 13px;border-radius:18px 18px 18px 5px;background:var(--bubble);white-space:pre-wrap;overflow-wrap:anywhere}
.own .bubble{border-radius:18px 18px 5px 18px;background:var(--accent);color:var(--on-accent)}
.bubble a{color:var(--accent);text-decoration:underline}
.own .bubble a{color:inherit}
.pending .bubble{opacity:.75}
.failed .bubble{background:#fdecea;color:var(--err);border:1px solid #f3b8b3}
.foot{margin:2px 6px 0;font-size:11.5px;color:var(--muted)}
.foot button{margin-left:6px;padding:0;border:0;background:none;color:var(--accent);text-decoration:underline;font-size:inherit}
.failed .foot{color:var(--err)}
.notice{align-self:center;max-width:90%;padding:2px 10px;font-size:12.5px;color:var(--muted);text-align:center}
.typing{min-height:20px;padding:0 18px 2px;font-size:12.5px;font-style:italic;color:var(--muted)}
form{display:flex;align-items:flex-end;gap:8px;margin:0;padding:10px 12px 12px 14px;border-top:1px solid var(--line)}
textarea{flex:1;min-height:42px;max-height:132px;margin:0;padding:10px 12px;border:1px solid var(--line);border-radius:12px;resize:none;
font:inherit;font-size:15px;line-height:1.4;color:var(--fg);background:var(--bg)}
textarea:focus{border-color:var(--accent);outline:0;box-shadow:0 0 0 1px var(--accent)}
.send{width:42px;height:42px;padding:0;border:0;border-radius:50%;background:var(--accent);color:var(--on-accent);display:flex;align-items:center;justify-content:center;flex:none}
.send:disabled{opacity:.45;cursor:default}
@media (max-width:480px),(max-height:480px){
.panel{inset:0;width:auto;height:auto;min-height:0;border-radius:0;padding-bottom:env(safe-area-inset-bottom)}
.open .launcher{display:none}
textarea{font-size:16px}}
@media (prefers-reduced-motion:no-preference){.panel{animation:sd-in .18s ease-out}@keyframes sd-in{from{opacity:0;transform:translateY(10px)}}}
@media (forced-colors:active){.launcher,.send,.bubble,.badge{border:1px solid CanvasText}}`;
  const CSAT_STYLE = `
.csat{align-self:stretch;margin:4px 6px;padding:10px 12px;border:1px solid var(--line);border-radius:12px;font-size:13.5px}
.csat form{display:block;margin:0;padding:0;border:0}
.csat fieldset{margin:0;padding:0;border:0}
.csat legend{padding:0;margin-bottom:4px;font-weight:600}
.stars{display:flex;gap:2px}
.stars label{font-size:26px;line-height:1;color:#b8c0cc;cursor:pointer;padding:2px}
.stars label.on,.stars span.on{color:#f5a300}
.stars input:focus-visible+label{outline:3px solid #f5b400;outline-offset:1px;border-radius:4px}
.csat-comment{display:block;width:100%;margin:8px 0;padding:8px 10px;border:1px solid var(--line);border-radius:10px;font:inherit;font-size:14px;color:var(--fg);background:var(--bg)}
.csat-comment:focus-visible{outline:3px solid #f5b400;outline-offset:1px}
.csat-send{padding:6px 14px;border:0;border-radius:8px;background:var(--accent);color:var(--on-accent)}
.csat-send:disabled{opacity:.5;cursor:default}
.csat.done{text-align:center;color:var(--muted)}
.csat.done .stars{justify-content:center;font-size:20px}`;

  // -- UI ------------------------------------------------------------------------------
  const host = h('div', { 'data-steadydesk': siteKey });
  const shadow = host.attachShadow({ mode: 'open' });
  if ('adoptedStyleSheets' in shadow && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
    const sheet = new CSSStyleSheet(); // works under a strict style-src CSP, unlike <style>
    sheet.replaceSync(STYLE + CSAT_STYLE);
    shadow.adoptedStyleSheets = [sheet];
  } else shadow.append(h('style', { text: STYLE + CSAT_STYLE }));

  const badge = h('span', { class: 'badge', 'aria-hidden': 'true', hidden: true });
  const launcherIcon = h('span', { class: 'li' }, icon('chat', 28));
  const launcher = h('button', { class: 'launcher', type: 'button', 'aria-controls': 'sd-panel', 'aria-expanded': 'false', 'aria-label': t('open') }, launcherIcon, badge);
  const sub = h('p', { class: 'sub', text: t('subtitle') });
  const avatar = h('span', { class: 'avatar', 'aria-hidden': 'true', hidden: true });
  const endBtn = h('button', { class: 'text', type: 'button', text: t('end'), hidden: true });
  const humanBtn = h('button', { class: 'text', type: 'button', text: t('human'), hidden: true });
  const closeBtn = h('button', { class: 'icon', type: 'button', 'aria-label': t('close'), title: t('close') }, icon('down', 26));
  const confirmYes = h('button', { class: 'danger', type: 'button', text: t('endYes') });
  const confirmNo = h('button', { type: 'button', text: t('cancel') });
  const confirmBar = h('div', { class: 'bar', role: 'group', 'aria-label': t('end'), hidden: true }, h('span', { text: t('endAsk') }), confirmYes, confirmNo);
  const banner = h('div', { class: 'banner', role: 'status', hidden: true });
  const log = h('ol', { class: 'log', 'aria-label': t('messages'), tabindex: '0' });
  const typingLine = h('div', { class: 'typing', 'aria-hidden': 'true' });
  // No maxlength: the browser would cut a long paste without a word. A counter shows
  // near the limit, and a text over it is refused, kept in the box to shorten.
  const input = h('textarea', { id: 'sd-input', rows: '1', placeholder: t('placeholder'), autocomplete: 'off', 'aria-describedby': 'sd-count' });
  const count = h('div', { class: 'count', id: 'sd-count', hidden: true });
  const sendBtn = h('button', { class: 'send', type: 'submit', 'aria-label': t('send'), title: t('send'), disabled: true }, icon('send', 22));
  const form = h('form', { novalidate: true }, h('label', { class: 'sr', for: 'sd-input', text: t('input') }), input, sendBtn);
  const panel = h('section', { class: 'panel', id: 'sd-panel', role: 'dialog', 'aria-labelledby': 'sd-title', hidden: true },
    h('header', {}, avatar, h('div', { class: 'hgroup' }, h('h2', { id: 'sd-title', text: opt.title || t('title') }), sub), humanBtn, endBtn, closeBtn),
    confirmBar, banner, log, typingLine, count, form);
  const announcer = h('div', { class: 'sr', 'aria-live': 'polite', 'aria-atomic': 'true' });
  const root = h('div', { class: 'root' + (opt.position === 'left' ? ' left' : ''), lang: LANG, 'data-state': 'idle' }, panel, launcher, announcer);
  if (opt.color && window.CSS && CSS.supports('color', opt.color)) root.style.setProperty('--accent', opt.color);
  shadow.append(root);

  const announce = (text) => { announcer.textContent = ''; setTimeout(() => { announcer.textContent = text; }, 50); };
  const smallScreen = () => matchMedia('(max-width: 480px), (max-height: 480px)').matches;
  const isOpen = () => !panel.hidden;
  const visible = () => isOpen() && document.visibilityState === 'visible';

  // -- rendering: one keyed pass over the list, elements reused when unchanged --------
  // Made on first use: the first Intl formatter of a page can cost tens of milliseconds.
  let formats = null;
  const when = (ts) => {
    const d = new Date(ts);
    if (isNaN(d)) return null;
    formats = formats || [
      new Intl.DateTimeFormat(LANG, { hour: 'numeric', minute: '2-digit' }),
      new Intl.DateTimeFormat(LANG, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' }),
    ];
    return h('time', { datetime: d.toISOString(), text: formats[d.toDateString() === new Date().toDateString() ? 0 : 1].format(d) });
  };
  const initials = (name) => {
    const w = String(name || '').trim().split(/\s+/).filter(Boolean);
    return w.length ? ([...w[0]][0] + (w.length > 1 ? [...w[w.length - 1]][0] : '')).toUpperCase() : '';
  };
  // Characters as the server counts them (code points); exact only near the limit.
  const length = (v) => (v.length < BODY_MAX_CHARS * 0.9 ? v.length : [...v].length);
  const num = (n) => n.toLocaleString(LANG);
  // The counter under the log near the limit; true when the text is too long to send.
  const showCount = () => {
    const n = length(input.value.trim()), over = n > BODY_MAX_CHARS;
    count.hidden = n < BODY_MAX_CHARS * 0.9;
    if (!count.hidden) count.textContent = t(over ? 'tooLongCount' : 'count', { n: num(n), max: num(BODY_MAX_CHARS) });
    count.classList.toggle('over', over);
    input.setAttribute('aria-invalid', String(over));
    overLimit(over);
    return over;
  };
  // Set by the attachments part (below).
  let attsFromWire = () => undefined, withAtts = (c) => c, uploadItems = () => {}, closeViewer = () => false, overLimit = () => {};
  // An AI's name always comes with its label: the robot never passes for a person.
  const senderName = (m) => m.st === 'agent' ? (m.sn || t('agent')) : m.st === 'ai' ? (m.sn ? m.sn + ' · ' : '') + t('bot') : m.sn || '';
  const ownMsg = (m) => m.st === 'visitor';

  // who: the sender's name; null for the visitor's own messages (named for screen readers).
  const bubble = (cls, who, content, foot) => h('li', { class: 'msg ' + cls },
    who === null ? h('span', { class: 'sr', text: t('you') + ':' }) : who ? h('span', { class: 'who', text: who }) : null,
    h('div', { class: 'bubble' }, content), foot && foot.childNodes.length ? foot : null);

  const nodes = new Map();
  let renderQueued = false;
  const render = () => {
    if (renderQueued) return;
    renderQueued = true;
    queueMicrotask(renderNow);
  };
  const renderNow = () => {
    renderQueued = false;
    if (isOpen()) renderLog();
    const c = S.cur && S.convs[S.cur];
    const who = c && c.agent && !c.closed ? c.agent : '';
    sub.textContent = who ? t('with', { name: who }) : c && c.closed ? t('ended') : t('subtitle');
    avatar.hidden = !who;
    avatar.textContent = initials(who);
    endBtn.hidden = !(c && !c.closed) || state === 'fatal';
    humanBtn.hidden = !(c && c.ai && !c.closed) || state === 'fatal';
    const n = unread();
    badge.hidden = !n || isOpen();
    badge.textContent = n > 99 ? '99+' : String(n);
    launcher.setAttribute('aria-label', (isOpen() ? t('close') : t('open')) + (n && !isOpen() ? ', ' + (n === 1 ? t('unread1') : t('unreadN', { n })) : ''));
    const over = showCount(); // always: an emptied box hides the counter and its offer
    sendBtn.disabled = !input.value.trim() || state === 'fatal' || over;
    routingRender();
  };
  // The message list is built only while the panel is open: a page load with a closed
  // panel costs a launcher, not a conversation's worth of DOM.
  const renderLog = () => {
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 60;
    const items = [];
    const rank = (c) => { const i = S.order.indexOf(c); return i < 0 ? 1e9 : i; };
    const lastOwnSeen = {};
    for (const m of S.msgs) {
      const c = S.convs[m.conv];
      if (ownMsg(m) && c && m.seq <= c.seen) lastOwnSeen[m.conv] = m.seq;
    }
    for (const m of S.msgs) {
      const seen = lastOwnSeen[m.conv] === m.seq;
      items.push({
        key: m.cid && ownMsg(m) ? 'c:' + m.cid : 'm:' + keyOf(m.conv, m.seq),
        order: [rank(m.conv), m.seq, 0],
        sig: [m.html != null, seen, m.ts, (m.att || []).length].join('|'),
        make: () => {
          const own = ownMsg(m);
          const foot = h('div', { class: 'foot' }, when(m.ts), seen ? ' · ' + t('seen') : null);
          return bubble(own ? 'own' : m.st === 'system' ? 'their system' : 'their', own ? null : senderName(m), withAtts(richText(m.html, m.body), m.att), foot);
        },
      });
    }
    for (const n of S.notes) {
      items.push({
        key: 'n:' + n.id, order: [rank(n.conv), n.after, 1], sig: String(n.conv === S.cur),
        make: () => h('li', { class: 'notice' }, t(n.text, { name: n.name || t('agent') }), n.text === 'ended' ? h('br') : null, n.text === 'ended' && n.conv === S.cur ? t('endedHint') : null),
      });
    }
    csatItems(items, rank);
    items.sort((a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1] || a.order[2] - b.order[2]);
    if (!items.length) items.push({ key: 'hello', sig: '', make: () => h('li', { class: 'hello', text: t('hello') }) });
    const stored = new Set(S.msgs.map((m) => m.cid));
    outbox.filter((o) => !stored.has(o.cid)).forEach((o) => items.push({
      key: 'c:' + o.cid, sig: 'pending',
      make: () => bubble('own pending', null, withAtts(o.body, o.att), h('div', { class: 'foot', text: t('sending') })),
    }));
    uploadItems(items);
    S.failed.forEach((f) => items.push({
      key: 'f:' + f.cid, sig: 'failed',
      make: () => bubble('own failed', null, f.body, h('div', { class: 'foot', role: 'alert' }, t(f.code === 'body_too_long' ? 'tooLong' : 'refused'),
        h('button', { type: 'button', text: t('dismiss'), onclick: () => { S.failed = S.failed.filter((x) => x.cid !== f.cid); save(); render(); } }))),
    }));
    let prev = null;
    const keep = new Set();
    for (const it of items) {
      let rec = nodes.get(it.key);
      if (!rec || rec.sig !== it.sig) {
        const el = it.make();
        if (rec) rec.el.replaceWith(el);
        rec = { el, sig: it.sig };
        nodes.set(it.key, rec);
      }
      keep.add(it.key);
      const want = prev ? prev.nextSibling : log.firstChild;
      if (rec.el !== want) log.insertBefore(rec.el, want);
      prev = rec.el;
    }
    for (const [k, rec] of nodes) if (!keep.has(k)) { rec.el.remove(); nodes.delete(k); }
    if (atBottom || stickToBottom) { log.scrollTop = log.scrollHeight; stickToBottom = false; }
  };
  let stickToBottom = true;

  const unread = () => S.msgs.filter((m) => !ownMsg(m) && S.convs[m.conv] && m.seq > S.convs[m.conv].read).length;

  // -- notices for new agent messages: sound, tab title, screen reader ---------------
  let audio = null;
  const unlockAudio = () => {
    if (opt.sound === 'off') return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === 'suspended') audio.resume();
    } catch (_) { audio = null; }
  };
  let lastBeep = 0;
  const beep = () => {
    if (!audio || opt.sound === 'off' || Date.now() - lastBeep < 1500) return;
    lastBeep = Date.now();
    try {
      const now = audio.currentTime, osc = audio.createOscillator(), gain = audio.createGain();
      osc.type = 'sine';
      osc.frequency.setValueAtTime(880, now);
      osc.frequency.setValueAtTime(1175, now + 0.09);
      gain.gain.setValueAtTime(0.0001, now);
      gain.gain.exponentialRampToValueAtTime(0.12, now + 0.015);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.3);
      osc.connect(gain).connect(audio.destination);
      osc.start(now);
      osc.stop(now + 0.32);
    } catch (_) { /* no sound is fine */ }
  };
  let titleTimer = null, savedTitle = null, titleFlip = false;
  const titleNotice = () => {
    const n = unread();
    if (!n || visible()) {
      if (titleTimer) { clearInterval(titleTimer); titleTimer = null; document.title = savedTitle; }
      return;
    }
    if (titleTimer) return;
    savedTitle = document.title;
    titleTimer = setInterval(() => {
      titleFlip = !titleFlip;
      document.title = titleFlip ? `(${unread()}) ${t('newMessage')}` : savedTitle;
    }, 1200);
    titleFlip = true;
    document.title = `(${n}) ${t('newMessage')}`;
  };
  const incoming = (m) => {
    if (visible()) { markRead(); return; }
    beep();
    announce(t('from', { name: senderName(m), text: m.body }));
  };

  // -- open / close ------------------------------------------------------------------
  const open = (focus = true) => {
    if (isOpen()) return;
    unlockAudio();
    panel.hidden = false;
    root.classList.add('open');
    launcher.setAttribute('aria-expanded', 'true');
    launcherIcon.replaceChildren(icon('close', 26));
    store.set('ui', { open: true });
    stickToBottom = true;
    ensureStarted();
    markRead();
    render();
    renderNow();
    availPoll();
    // Phones: do not pop the keyboard up; land on the dialog's first control instead.
    if (focus) (smallScreen() ? closeBtn : input).focus();
  };
  const close = () => {
    if (!isOpen()) return;
    const hadFocus = shadow.activeElement && panel.contains(shadow.activeElement);
    panel.hidden = true;
    confirmBar.hidden = true;
    root.classList.remove('open');
    launcher.setAttribute('aria-expanded', 'false');
    launcherIcon.replaceChildren(icon('chat', 28));
    store.set('ui', { open: false });
    clearTimeout(availTimer);
    render();
    if (hadFocus || smallScreen()) launcher.focus();
  };
  launcher.addEventListener('click', () => (isOpen() ? close() : open()));
  closeBtn.addEventListener('click', close);
  root.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || !isOpen()) return;
    e.stopPropagation();
    if (closeViewer()) return;
    if (!confirmBar.hidden) { confirmBar.hidden = true; endBtn.focus(); } else close();
  });
  endBtn.addEventListener('click', () => { confirmBar.hidden = false; confirmNo.focus(); });
  // While a robot holds the chat: the server hands it to people, robot up or down.
  humanBtn.addEventListener('click', () => { if (S.cur) sendFrame({ type: 'handoff', conv: S.cur }); });
  confirmNo.addEventListener('click', () => { confirmBar.hidden = true; endBtn.focus(); });
  confirmYes.addEventListener('click', () => {
    confirmBar.hidden = true;
    if (S.cur && sendFrame({ type: 'close', conv: S.cur })) input.focus();
  });

  // -- composer ----------------------------------------------------------------------
  const grow = () => { input.style.height = 'auto'; input.style.height = Math.min(input.scrollHeight + 2, 132) + 'px'; };
  let typingOn = false, typingSentAt = 0, typingTimer = null;
  const typing = (on) => {
    clearTimeout(typingTimer);
    const c = S.cur && S.convs[S.cur];
    if (!c || c.closed || !welcomed) { typingOn = false; return; }
    if (on) {
      typingTimer = setTimeout(() => typing(false), TYPING_IDLE_MS);
      if (typingOn && Date.now() - typingSentAt < TYPING_RESEND_MS) return;
      typingSentAt = Date.now();
    } else if (!typingOn) return;
    typingOn = on;
    sendFrame({ type: 'typing', conv: S.cur, on });
  };
  input.addEventListener('input', () => { grow(); render(); typing(!!input.value.trim()); });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : submit(e); }
  });
  input.addEventListener('blur', () => typing(false));
  const submit = (e) => {
    e.preventDefault();
    const body = input.value.trim();
    if (!body || state === 'fatal') return;
    if (showCount()) { announce(count.textContent); input.focus(); return; } // refused, never cut
    input.value = '';
    grow();
    typing(false);
    enqueue(body);
    input.focus();
  };
  form.addEventListener('submit', submit);

  const enqueue = (body, att) => {
    // No conv for the first message: the server uses the visitor's open conversation or
    // opens one. After the conversation ended the server opens a new one, linked to it.
    const c = S.cur && S.convs[S.cur];
    const item = { cid: uuid(), body, conv: c && !c.gone ? S.cur : null, at: Date.now(), att };
    writeOutbox([...readOutbox(), item]); // persisted before it is sent
    stickToBottom = true;
    render();
    ensureStarted();
    pump();
  };

  // -- session -----------------------------------------------------------------------
  let token = null, state = 'idle', started = false, sessionAttempt = 0, sessionTimer = null, sessionBusy = false, anonymous = false;
  const setState = (s) => { state = s; root.dataset.state = s; render(); };
  // Routing hints for a load balancer (docs/protocol.md): the server ignores them; nginx
  // keeps a visitor on one node group across reconnects during a gray rollout.
  const hints = () => '?site=' + encodeURIComponent(siteKey) + (S && S.visitor ? '&visitor=' + encodeURIComponent(S.visitor) : '');
  const identity = () => {
    const id = window.SteadyDesk;
    return id && typeof id === 'object' && !anonymous ? id : {};
  };
  // The session request: the stored token (if it is this user's), the page's identity.
  const sessionBody = () => {
    const id = identity();
    const uid = id.user_id != null && id.user_id !== '' ? String(id.user_id) : '';
    const saved = store.get('token', null);
    const body = { site_key: siteKey, page_url: location.href, referrer: document.referrer, language: navigator.language };
    if (saved && saved.uid === uid) body.token = saved.token;
    if (uid) Object.assign(body, { user_id: uid, user_hash: id.user_hash, user_ts: id.user_ts });
    // Pre-chat / offline name and e-mail, if given (the department is kept by the server).
    Object.assign(body, routingDetails(), { department: undefined });
    for (const k of ['name', 'email']) if (typeof id[k] === 'string' && id[k]) body[k] = id[k];
    return [body, uid];
  };
  const ensureStarted = () => {
    if (started) { if (token) connect(); return; }
    started = true;
    startSession();
  };
  const startSession = async () => {
    if (sessionBusy || state === 'fatal') return;
    clearTimeout(sessionTimer);
    sessionBusy = true;
    setState('connecting');
    const [body, uid] = sessionBody();
    let res, data = null;
    try {
      res = await fetch(ORIGIN + '/api/v1/visitor/session' + hints(), {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), credentials: 'omit',
      });
      data = await res.json().catch(() => null);
    } catch (_) { res = null; }
    sessionBusy = false;
    const code = data && data.error && data.error.code;
    if (res && res.ok && data && data.token) {
      sessionAttempt = 0;
      adoptVisitor(data, uid);
      if (wanted()) connect();
      else setState('idle');
    } else if (code === 'bad_user_hash' || code === 'stale_user_hash') {
      console.warn('steadydesk: identity verification failed (' + code + '); chatting anonymously');
      anonymous = true;
      startSession();
    } else if (res && (res.status === 403 || res.status === 404)) {
      fatal(code || 'forbidden');
    } else {
      down();
      sessionTimer = setTimeout(startSession, backoff(sessionAttempt++));
    }
  };
  const adoptVisitor = (data, uid) => {
    token = data.token;
    store.set('token', { token: data.token, uid, expires_at: data.expires_at });
    if (S.visitor && S.visitor !== data.visitor_id) {
      // Another visitor now (token expired, or the signed-in user changed): never show
      // the previous one's history. Unsent messages stay only if typed by the same user.
      const sameUser = (S.uid || '') === uid;
      S = { order: [], convs: {}, msgs: [], notes: [], failed: [] };
      byKey = new Map();
      writeOutbox(sameUser ? readOutbox().map((o) => Object.assign({}, o, { conv: null })) : []);
    }
    S.visitor = data.visitor_id;
    S.uid = uid;
    // The server names the open conversation: ours was closed meanwhile if it differs.
    if (S.cur && S.cur !== data.conversation) conv(S.cur).closed = true;
    if (data.conversation) { conv(data.conversation).closed = false; S.cur = data.conversation; }
    save();
    routingAdopt(data);
    render();
  };
  const fatal = (why) => {
    console.warn('steadydesk: chat unavailable (' + why + ')');
    clearTimeout(retryTimer);
    clearTimeout(sessionTimer);
    setState('fatal');
    banner.textContent = t('unavailable');
    banner.hidden = false;
  };

  // -- connection --------------------------------------------------------------------
  let ws = null, welcomed = false, attempt = 0, retryTimer = null, connectTimer = null, pingTimer = null, pongTimer = null;
  let healthyTimer = null, bannerTimer = null, heartbeatMs = 25000, everUp = false;
  let follow = {}; // conv -> 'resume' (every frame advances the cursor) | 'live' (filled by sync)
  const backoff = (n) => {
    const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(n, 10));
    return cap / 2 + Math.random() * cap / 2;
  };
  const sendFrame = (frame) => {
    if (!ws || !welcomed || ws.readyState !== 1) return false;
    ws.send(JSON.stringify(frame));
    return true;
  };
  // A socket only while there is something to say or hear: a returning visitor without an
  // open conversation costs the server no connection until the panel is opened.
  const wanted = () => TRACK || isOpen() || readOutbox().length > 0 || !!(S.cur && S.convs[S.cur] && !S.convs[S.cur].closed);
  const connect = () => {
    clearTimeout(retryTimer);
    if (ws || !token || state === 'fatal') return;
    let sock;
    try { sock = new WebSocket(WS_URL + hints()); } catch (_) { retryTimer = setTimeout(connect, backoff(attempt++)); return; }
    ws = sock;
    welcomed = false;
    follow = {};
    const resume = {};
    for (const id of S.order.slice(-3)) {
      const c = S.convs[id];
      if (c.cursor > 0 && !c.gone) { resume[id] = c.cursor; follow[id] = 'resume'; }
    }
    connectTimer = setTimeout(() => drop(sock), CONNECT_TIMEOUT_MS);
    sock.onopen = () => sock.send(JSON.stringify({ type: 'hello', token, resume, client: 'widget/' + VERSION }));
    sock.onmessage = (e) => {
      if (sock !== ws) return;
      let f;
      try { f = JSON.parse(e.data); } catch (_) { return; }
      if (f && typeof f.type === 'string') onFrame(f);
    };
    sock.onclose = (e) => { if (sock === ws) lost(e.code); };
  };
  // Give up on a socket that looks dead: a browser may take minutes to notice by itself.
  const abandon = (sock) => {
    sock.onclose = sock.onmessage = sock.onopen = null;
    try { sock.close(); } catch (_) { /* already closing */ }
  };
  const drop = (sock) => {
    if (sock !== ws) return;
    abandon(sock);
    lost(1006);
  };
  const lost = (code) => {
    ws = null;
    welcomed = false;
    inflight = null;
    for (const tm of [connectTimer, pongTimer, healthyTimer]) clearTimeout(tm);
    clearInterval(pingTimer);
    pongTimer = null;
    showTyping(null);
    if (code === 4403) { fatal('origin_not_allowed'); return; }
    down();
    if (code === 4401) { token = null; sessionTimer = setTimeout(startSession, backoff(attempt++)); return; }
    const delay = code === 1012 ? Math.random() * 300 : backoff(attempt++);
    retryTimer = setTimeout(connect, delay);
  };
  const down = () => {
    setState('down');
    if (bannerTimer) return;
    bannerTimer = setTimeout(() => {
      banner.textContent = !navigator.onLine ? t('offline') : everUp ? t('reconnecting') : t('connecting');
      banner.hidden = false;
    }, BANNER_DELAY_MS);
  };
  const up = () => {
    clearTimeout(bannerTimer);
    bannerTimer = null;
    banner.hidden = true;
    everUp = true;
    setState('up');
  };
  // JSON ping: browsers cannot see WebSocket ping frames, so liveness is checked here.
  const probe = () => {
    if (!ws || !welcomed || pongTimer) return;
    const sock = ws;
    sendFrame({ type: 'ping' });
    pongTimer = setTimeout(() => drop(sock), Math.min(Math.max(heartbeatMs / 2, 2000), 10000));
  };
  // Only an answer to our own frame (pong, ack, batch) proves the way up works too.
  const alive = () => { clearTimeout(pongTimer); pongTimer = null; };
  // The network is back (or the tab is visible again): check an open socket at once,
  // and replace a handshake begun while the network was gone instead of waiting it out.
  const reconnectNow = (replaceHandshake) => {
    if (state === 'fatal' || !started) return;
    if (ws && welcomed) { probe(); return; }
    if (!token) { startSession(); return; }
    if (ws && !replaceHandshake) return;
    if (ws) { abandon(ws); ws = null; clearTimeout(connectTimer); }
    if (!wanted()) return;
    attempt = 0;
    connect();
  };
  window.addEventListener('online', () => reconnectNow(true));
  window.addEventListener('offline', () => {
    probe(); // the socket rarely survives; find out now, not at the next heartbeat
    if (!banner.hidden) banner.textContent = t('offline');
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') { reconnectNow(false); markRead(); }
    titleNotice();
  });
  window.addEventListener('focus', () => { markRead(); titleNotice(); });
  window.addEventListener('pageshow', (e) => { if (e.persisted) reconnectNow(true); }); // back/forward cache

  // -- the outbox: one send in flight, in order, until acked -------------------------
  let detailsPosting = null; // the pre-chat or offline details on their way (routing, below)
  let prechatRefused = () => {}; // set by the routing part below
  let inflight = null, holdUntil = 0, holdCount = 0, holdTimer = null;
  const pump = () => {
    if (!welcomed || inflight) return;
    // Held while the server waits for the pre-chat form (prechat_required), and while
    // details typed with the message are on their way: they must arrive first.
    if (store.get('prechatNeed', null) || detailsPosting) return;
    if (Date.now() < holdUntil) {
      clearTimeout(holdTimer);
      holdTimer = setTimeout(pump, holdUntil - Date.now());
      return;
    }
    const item = readOutbox()[0];
    if (!item) return;
    const frame = { type: 'send', cid: item.cid, body: item.body };
    if (item.att) frame.attachments = item.att.map((a) => a.id);
    if (item.conv && !(S.convs[item.conv] || {}).gone) frame.conv = item.conv;
    if (sendFrame(frame)) { inflight = item.cid; probe(); }
  };
  const settle = (cid) => {
    if (readOutbox().some((o) => o.cid === cid)) writeOutbox(outbox.filter((o) => o.cid !== cid));
    if (inflight === cid) { inflight = null; holdCount = 0; }
    render();
    pump();
  };
  const onAck = (f) => {
    const item = readOutbox().find((o) => o.cid === f.cid);
    if (item) {
      const known = !!S.convs[f.conv];
      addMessage({ conv: f.conv, seq: f.seq, id: f.id, ts: f.ts, body: item.body, cid: f.cid, st: 'visitor', sn: '', att: item.att });
      // A send can open a conversation (the first message, or one after a closed one).
      if (f.conv !== S.cur && !S.convs[f.conv].closed) switchTo(f.conv, !known && f.seq === 1);
    }
    settle(f.cid);
  };
  const onSendError = (f) => {
    const code = f.code;
    if (code === 'rate_limited' || code === 'unavailable' || code === 'internal_error') {
      if (inflight === f.cid) inflight = null;
      holdUntil = Date.now() + Math.min(30000, 2000 * 2 ** holdCount++);
      pump();
      return;
    }
    const item = readOutbox().find((o) => o.cid === f.cid);
    if (item && code === 'prechat_required') {
      // The server wants the pre-chat form first: the message stays in the outbox, held,
      // and goes (same cid) once the form is sent. The form shows what was missing.
      if (inflight === f.cid) inflight = null;
      prechatRefused(Array.isArray(f.fields) ? f.fields.filter((x) => typeof x === 'string') : []);
      return;
    }
    if (item && code === 'conversation_closed' && item.conv) {
      // Closed under us: send it again into the visitor's open (or a new) conversation.
      conv(item.conv).closed = true;
      save();
      writeOutbox(outbox.map((o) => (o.cid === f.cid ? Object.assign({}, o, { conv: null }) : o)));
      if (inflight === f.cid) inflight = null;
      pump();
      return;
    }
    if (item) {
      S.failed.push({ cid: item.cid, body: item.body, code });
      save();
      announce(t(code === 'body_too_long' ? 'tooLong' : 'refused'));
    }
    settle(f.cid);
  };

  // -- incoming frames -----------------------------------------------------------------
  const addMessage = (m) => {
    const key = keyOf(m.conv, m.seq);
    const had = byKey.get(key);
    if (had) {
      if (had.html == null && m.html != null) { Object.assign(had, m); save(); render(); }
      return false;
    }
    conv(m.conv);
    byKey.set(key, m);
    const rank = (c) => S.order.indexOf(c);
    let i = S.msgs.length;
    while (i > 0 && (rank(S.msgs[i - 1].conv) > rank(m.conv) || (S.msgs[i - 1].conv === m.conv && S.msgs[i - 1].seq > m.seq))) i--;
    S.msgs.splice(i, 0, m);
    save();
    render();
    return true;
  };
  const fromWire = (f) => ({
    conv: f.conv, seq: f.seq, id: f.id, ts: f.ts, body: f.body, html: typeof f.html === 'string' ? f.html : null,
    cid: f.cid || null, st: (f.sender && f.sender.type) || 'system', sn: (f.sender && f.sender.name) || '',
    att: attsFromWire(f.attachments),
  });
  const note = (convId, text, name, at) => {
    const c = conv(convId);
    const after = typeof at === 'number' ? at : Math.max(c.cursor, ...S.msgs.filter((m) => m.conv === convId).map((m) => m.seq), 0);
    const id = convId + ':' + text + ':' + after;
    if (S.notes.some((n) => n.id === id)) return;
    S.notes.push({ id, conv: convId, after, text, name });
    if (S.notes.length > 60) S.notes.splice(0, S.notes.length - 60);
    save();
    render();
  };
  // fresh: a conversation opened just now, so everything of it arrives on this connection;
  // otherwise anything this connection was not resumed from is filled in with `sync`.
  const switchTo = (id, fresh) => {
    if (!id) return;
    conv(id);
    if (S.cur !== id) { S.cur = id; save(); render(); }
    if (fresh) follow[id] = 'resume';
    else if (!follow[id] && welcomed) { follow[id] = 'live'; filledFrom[id] = S.convs[id].cursor; fill(id); }
  };
  let filledFrom = {};
  const fill = (id) => sendFrame({ type: 'sync', conv: id, after: S.convs[id].cursor, limit: SYNC_PAGE });

  let typingHide = null;
  const showTyping = (name) => {
    clearTimeout(typingHide);
    typingLine.textContent = name ? t('typing', { name }) : '';
    if (name) typingHide = setTimeout(() => showTyping(null), TYPING_SHOWN_MS);
  };

  const onFrame = (f) => {
    switch (f.type) {
      case 'welcome': {
        clearTimeout(connectTimer);
        welcomed = true;
        heartbeatMs = Math.max(1, Number(f.heartbeat) || 25) * 1000;
        pingTimer = setInterval(probe, heartbeatMs);
        healthyTimer = setTimeout(() => { attempt = 0; }, HEALTHY_AFTER_MS);
        up();
        const current = f.you && f.you.conversation;
        if (current) conv(current).closed = false;
        switchTo(current || S.cur, false);
        markRead();
        pump();
        reportPage();
        csatResend();
        availPoll();
        break;
      }
      case 'message': {
        if (f.kind === 'note') break;
        const m = fromWire(f);
        const c = conv(m.conv);
        if (follow[m.conv] === 'resume' && m.seq > c.cursor) { c.cursor = m.seq; save(); }
        const fresh = addMessage(m);
        if (m.cid && ownMsg(m) && readOutbox().some((o) => o.cid === m.cid)) settle(m.cid);
        if (!ownMsg(m)) {
          showTyping(null);
          if (fresh && m.seq > c.read) incoming(m);
        }
        titleNotice();
        break;
      }
      case 'batch': {
        alive();
        const c = conv(f.conv);
        const list = Array.isArray(f.messages) ? f.messages : [];
        let fresh = null;
        for (const raw of list) if (raw.kind !== 'note' && addMessage(fromWire(raw)) && raw.sender && raw.sender.type !== 'visitor') fresh = raw;
        if (list.length) c.cursor = Math.max(c.cursor, list[list.length - 1].seq);
        if (f.has_more) fill(f.conv);
        else {
          c.cursor = Math.max(c.cursor, ...S.msgs.filter((m) => m.conv === f.conv).map((m) => m.seq));
          follow[f.conv] = 'resume';
          // History seen for the first time on this device (another device, a cleared
          // cache) is old news: no badge for it.
          if (filledFrom[f.conv] === 0) { c.read = Math.max(c.read, c.cursor); fresh = null; render(); }
          delete filledFrom[f.conv];
        }
        save();
        if (fresh && fresh.seq > c.read) incoming(fromWire(fresh));
        titleNotice();
        break;
      }
      case 'ack': alive(); onAck(f); break;
      case 'pong': alive(); break;
      case 'error':
        if (f.cid) onSendError(f);
        else if (f.conv && csatError(f)) break;
        else if (f.conv && f.code === 'forbidden' && S.convs[f.conv]) { S.convs[f.conv].gone = true; save(); }
        break;
      case 'typing':
        if (f.sender && f.sender.type !== 'visitor' && f.conv === S.cur) showTyping(f.on ? f.sender.name || t('agent') : null);
        break;
      case 'read':
        if (f.sender && f.sender.type !== 'visitor' && S.convs[f.conv] && f.seq > S.convs[f.conv].seen) { S.convs[f.conv].seen = f.seq; save(); render(); }
        break;
      case 'event': onEvent(f); break;
      default: break;
    }
  };
  const onEvent = (f) => {
    const data = f.data || {};
    const name = (data.agent && data.agent.name) || '';
    if (f.name === 'conv.opened') {
      switchTo(f.conv, true);
      const by = data.invited_by; // invited by an agent
      if (by) { conv(f.conv).agent = String(by.name || ''); open(false); }
    } else if (f.name === 'conv.assigned') {
      const a = data.assignee || {};
      conv(f.conv).ai = a.type === 'ai';
      conv(f.conv).agent = a.type === 'ai' ? senderName({ st: 'ai', sn: a.name }) : name;
      note(f.conv, 'joined', conv(f.conv).agent, data.last_seq);
    } else if (f.name === 'conv.transferred') {
      // To an agent: the header follows them; to a department: waiting again.
      const to = data.to_agent || data.to_department || {};
      const toName = typeof to.name === 'string' ? to.name : '';
      conv(f.conv).agent = data.to_agent ? toName : '';
      conv(f.conv).ai = false;
      note(f.conv, toName ? 'transferredTo' : 'transferred', toName, data.last_seq);
    } else if (f.name === 'conv.closed') {
      conv(f.conv).closed = true;
      if (f.conv === S.cur) showTyping(null);
      note(f.conv, 'ended');
      announce(t('ended'));
      if (data.csat) csatOffer(f.conv);
    } else if (f.name === 'conv.rated') {
      csatRated(f.conv, data);
    }
  };

  // -- CSAT: the rating prompt after a conversation ends --------------------------------
  // Per conversation c.csat = {state: offered | sending | queued | done, rating, comment},
  // persisted with the chat so a reload keeps the prompt (or the thanks).
  const CSAT_COMMENT_MAX = 1000;
  const csatOffer = (id) => {
    const c = conv(id);
    if (!c.csat) { c.csat = { state: 'offered', rating: 0, comment: '' }; save(); render(); }
  };
  const csatRated = (id, data) => {
    const c = conv(id);
    const was = c.csat && c.csat.state;
    c.csat = { state: 'done', rating: Number(data.rating) || 0, comment: data.comment || '' };
    save();
    render();
    if (was !== 'done') announce(t('rateThanks'));
  };
  const csatSend = (id) => {
    const r = S.convs[id].csat;
    const frame = { type: 'rate', conv: id, rating: r.rating };
    if (r.comment) frame.comment = r.comment;
    r.state = sendFrame(frame) ? 'sending' : 'queued';
    if (r.state === 'queued') ensureStarted(); // sent on the next welcome
    save();
    render();
  };
  const csatResend = () => {
    for (const id of S.order) {
      const r = S.convs[id].csat;
      if (r && (r.state === 'queued' || r.state === 'sending')) csatSend(id);
    }
  };
  // An error about a conversation whose rating is on its way is the answer to it.
  const csatError = (f) => {
    const c = S.convs[f.conv];
    const r = c && c.csat;
    if (!r || (r.state !== 'sending' && r.state !== 'queued')) return false;
    if (f.code === 'already_rated') r.state = 'done';
    else if (f.code === 'rate_limited' || f.code === 'unavailable' || f.code === 'internal_error') r.state = 'offered';
    else delete c.csat; // not offered after all (open, CSAT off, not ours)
    save();
    render();
    return true;
  };
  const csatItems = (items, rank) => {
    for (const id of S.order) {
      const r = S.convs[id].csat;
      if (!r) continue;
      items.push({ key: 'r:' + id, order: [rank(id), 1e12, 2], sig: r.state + ':' + r.rating, make: () => csatNode(id, r) });
    }
  };
  const csatStars = (n) => h('span', { class: 'stars', 'aria-hidden': 'true' },
    ...[1, 2, 3, 4, 5].map((i) => h('span', { class: i <= n ? 'on' : null, text: i <= n ? '★' : '☆' })));
  const csatNode = (id, r) => {
    if (r.state === 'done') {
      return h('li', { class: 'csat done' }, r.rating ? csatStars(r.rating) : null,
        r.rating ? h('span', { class: 'sr', text: t('rated', { n: r.rating }) }) : null, h('div', { text: t('rateThanks') }));
    }
    const name = 'sd-csat-' + id;
    let chosen = r.rating || 0;
    const labels = [];
    const paint = () => labels.forEach((lab, i) => lab.classList.toggle('on', i < chosen));
    const busy = r.state !== 'offered';
    const sendRate = h('button', { class: 'csat-send', type: 'submit', text: busy ? t('sending') : t('rateSend'), disabled: busy || !chosen });
    const stars = [];
    for (let n = 1; n <= 5; n++) {
      const radio = h('input', { type: 'radio', class: 'sr', name, id: name + '-' + n, value: String(n), checked: chosen === n, disabled: busy });
      const lab = h('label', { for: name + '-' + n, title: t('rateStar', { n }) }, h('span', { 'aria-hidden': 'true', text: '★' }), h('span', { class: 'sr', text: t('rateStar', { n }) }));
      radio.addEventListener('change', () => { chosen = n; paint(); sendRate.disabled = false; });
      labels.push(lab);
      stars.push(radio, lab);
    }
    paint();
    // An <input>, not a <textarea>: the composer stays the widget's one textarea.
    const comment = h('input', { type: 'text', class: 'csat-comment', maxlength: String(CSAT_COMMENT_MAX), 'aria-label': t('rateComment'), placeholder: t('rateComment'), disabled: busy });
    comment.value = r.comment || '';
    const f = h('form', { class: 'csat-form', novalidate: true },
      h('fieldset', {}, h('legend', { text: t('rateAsk') }), h('div', { class: 'stars' }, ...stars)), comment, sendRate);
    f.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!chosen || r.state !== 'offered') return;
      Object.assign(r, { rating: chosen, comment: comment.value.trim().slice(0, CSAT_COMMENT_MAX) });
      csatSend(id);
    });
    return h('li', { class: 'csat' }, f);
  };

  // -- read receipts -------------------------------------------------------------------
  let readSent = {};
  const markRead = () => {
    if (!visible()) return;
    let changed = false;
    for (const id of S.order) {
      const c = S.convs[id];
      const top = S.msgs.reduce((max, m) => (m.conv === id && m.seq > max ? m.seq : max), 0);
      if (top > c.read) { c.read = top; changed = true; }
      if (id === S.cur && top > (readSent[id] || 0) && sendFrame({ type: 'read', conv: id, seq: top })) readSent[id] = top;
    }
    if (changed) { save(); render(); }
    titleNotice();
  };

  // -- other tabs of the same site share the outbox and the history ------------------
  window.addEventListener('storage', (e) => {
    if (e.key === NS + 'outbox') { readOutbox(); render(); ensureStarted(); pump(); }
    else if (e.key === NS + 'chat' && e.newValue) merge(JSON.parse(e.newValue));
  });
  // Both tabs receive the same frames; merging (never replacing) keeps each one's view whole.
  const merge = (other) => {
    if (!other || other.visitor !== S.visitor) { loadState(); render(); return; }
    for (const id of other.order || []) {
      const mine = conv(id), theirs = other.convs[id];
      for (const k of ['cursor', 'read', 'seen']) mine[k] = Math.max(mine[k] || 0, theirs[k] || 0);
      mine.closed = mine.closed || theirs.closed;
      mine.agent = mine.agent || theirs.agent;
      if (theirs.csat && (!mine.csat || theirs.csat.state === 'done')) mine.csat = theirs.csat;
    }
    for (const m of other.msgs || []) addMessage(m);
    for (const n of other.notes || []) if (!S.notes.some((x) => x.id === n.id)) S.notes.push(n);
    if (other.cur && other.cur !== S.cur && S.order.indexOf(other.cur) >= S.order.indexOf(S.cur)) S.cur = other.cur;
    save();
    render();
  };

  // -- page trail: agents see which page the visitor is on (a `page` frame per view) ---
  // Sent once the socket is up: on load, and on single-page-app navigation (history
  // pushState/replaceState, back/forward). A view made while disconnected is reported
  // when the socket returns, if the visitor is still on it.
  const PAGE_SETTLE_MS = 250; // let the app set the new page's title first
  let pageSent = null, pagePrev = document.referrer, pageTimer = null;
  const reportPage = () => {
    const url = location.href;
    if (url === pageSent || !/^https?:/i.test(url)) return;
    const frame = { type: 'page', url: url.slice(0, 1000), title: String(document.title || '').slice(0, 300) };
    if (/^https?:/i.test(pagePrev || '')) frame.referrer = pagePrev.slice(0, 1000);
    if (sendFrame(frame)) { pagePrev = url; pageSent = url; }
  };
  const pageChanged = () => { clearTimeout(pageTimer); pageTimer = setTimeout(reportPage, PAGE_SETTLE_MS); };
  for (const name of ['pushState', 'replaceState']) {
    const original = history[name];
    if (typeof original !== 'function') continue;
    history[name] = function (...args) {
      const result = original.apply(this, args);
      pageChanged();
      return result;
    };
  }
  window.addEventListener('popstate', pageChanged);
  window.addEventListener('hashchange', pageChanged);
  // -- availability, offline form, pre-chat form (routing) ---------------------------
  // The session answers `availability` (open, reason, message, next_open) and `prechat`
  // (enabled, fields, required, departments). Closed: a notice, and name/e-mail fields
  // above the message box; the message itself goes through the outbox like any other,
  // so it is never lost. Pre-chat: a form before the first message, when configured.
  Object.assign(STRINGS.en, {
    afterHours: 'We are away right now. Leave a message and we will get back to you.',
    noAgents: 'No one is available right now. Leave a message and we will reply soon.',
    backAt: 'We are back {when}.', yourName: 'Name', yourEmail: 'E-mail', department: 'Department',
    choose: 'Choose…', startChat: 'Start chat', optional: '(optional)', needed: 'Please fill in {field}.',
    badEmail: 'Please enter a valid e-mail address.', badDept: 'Please choose another department.',
    prechatIntro: 'Tell us a little about yourself before we start.', details: 'Your details',
  });
  Object.assign(STRINGS['zh-CN'], {
    afterHours: '我们现在不在线。请留言，我们会尽快回复您。',
    noAgents: '目前没有客服在线。请留言，我们会尽快回复您。',
    backAt: '我们将于 {when} 回来。', yourName: '姓名', yourEmail: '电子邮箱', department: '部门',
    choose: '请选择…', startChat: '开始对话', optional: '（选填）', needed: '请填写{field}。',
    badEmail: '请输入有效的电子邮箱地址。', badDept: '请选择其他部门。',
    prechatIntro: '开始之前，请先介绍一下您自己。', details: '您的信息',
  });
  Object.assign(STRINGS['zh-TW'], {
    afterHours: '我們現在不在線上。請留言，我們會盡快回覆您。',
    noAgents: '目前沒有客服在線上。請留言，我們會盡快回覆您。',
    backAt: '我們將於 {when} 回來。', yourName: '姓名', yourEmail: '電子郵件', department: '部門',
    choose: '請選擇…', startChat: '開始對話', optional: '（選填）', needed: '請填寫{field}。',
    badEmail: '請輸入有效的電子郵件地址。', badDept: '請選擇其他部門。',
    prechatIntro: '開始之前，請先介紹一下您自己。', details: '您的資料',
  });
  const ROUTING_STYLE = `
.avail{padding:8px 12px;background:#eef3ff;color:#1d2a4d;font-size:13px;border-bottom:1px solid var(--line)}
.details{display:flex;flex-direction:column;gap:8px;padding:10px 14px 0;border-top:1px solid var(--line)}
.details p{margin:0;font-size:13px;color:var(--muted)}
.details label{display:flex;flex-direction:column;gap:3px;font-size:12.5px;color:var(--muted)}
.details input,.details select{font:inherit;font-size:15px;padding:7px 10px;border:1px solid var(--line);border-radius:10px;color:var(--fg);background:var(--bg)}
.details input:focus,.details select:focus{border-color:var(--accent);outline:0;box-shadow:0 0 0 1px var(--accent)}
.details .err{color:var(--err);font-size:12.5px}
.details .go{align-self:flex-end;margin-bottom:12px;padding:8px 16px;border:0;border-radius:10px;background:var(--accent);color:var(--on-accent)}
.prechat{flex:1;overflow-y:auto;border-top:0}`;
  if (shadow.adoptedStyleSheets && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
    const extra = new CSSStyleSheet();
    extra.replaceSync(ROUTING_STYLE);
    shadow.adoptedStyleSheets = [...shadow.adoptedStyleSheets, extra];
  } else shadow.append(h('style', { text: ROUTING_STYLE }));

  let avail = null, prechat = null;
  const details = () => store.get('details', {});
  const routingDetails = () => {
    const d = details(), out = {};
    for (const k of ['name', 'email', 'department']) if (typeof d[k] === 'string' && d[k]) out[k] = d[k];
    return out;
  };
  const availBar = h('div', { class: 'avail', role: 'status', hidden: true });
  const detailsErr = h('p', { class: 'err', role: 'alert', hidden: true });
  const field = (name, label, control) => h('label', { 'data-field': name }, h('span', { text: label }), control);
  const nameIn = h('input', { type: 'text', name: 'name', maxlength: '200', autocomplete: 'name' });
  const emailIn = h('input', { type: 'email', name: 'email', maxlength: '254', autocomplete: 'email' });
  const deptIn = h('select', { name: 'department' });
  const goBtn = h('button', { class: 'go', type: 'button', text: t('startChat') });
  const intro = h('p', {});
  const detailsBox = h('div', { class: 'details', role: 'group', 'aria-label': t('details') },
    intro, field('name', t('yourName'), nameIn), field('email', t('yourEmail'), emailIn),
    field('department', t('department'), deptIn), detailsErr, goBtn);
  banner.after(availBar);
  form.before(detailsBox);
  form.before(count);
  detailsBox.addEventListener('input', () => { detailsErr.hidden = true; });

  const hasChat = () => readOutbox().length > 0 || !!(S.cur && S.convs[S.cur] && !S.convs[S.cur].closed);
  // 'prechat': the form instead of the message box; 'offline': fields above it; '' neither.
  const need = () => store.get('prechatNeed', null);
  const detailsMode = () => {
    if (need()) return 'prechat'; // the server refused a first message without the form
    if (hasChat()) return '';
    if (prechat && prechat.enabled && !store.get('prechatDone', false) && (!avail || avail.open)) return 'prechat';
    return avail && !avail.open ? 'offline' : '';
  };
  const shownFields = (mode) => {
    const configured = prechat && prechat.enabled ? prechat.fields || [] : [];
    if (mode === 'prechat') return configured.concat((need() || []).filter((k) => !configured.includes(k)));
    return ['name', 'email'].concat(configured.includes('department') ? ['department'] : []);
  };
  const requiredFields = () => (prechat && prechat.enabled ? prechat.required || [] : []).concat(need() || []);
  // After hours the promise is a reply by e-mail: the offline form needs one (unless the
  // page says who the visitor is).
  const emailNeeded = (mode) => mode === 'offline' && !!avail && avail.reason === 'after_hours' && !identity().email;
  const requiredFor = (mode) => requiredFields().concat(emailNeeded(mode) ? ['email'] : []);
  let lastMode = null;
  const routingRender = () => {
    const c = S.cur && S.convs[S.cur];
    if (avail && !avail.open && !(c && !c.closed && c.agent)) { // not once someone joined
      let text = avail.message || t(avail.reason === 'after_hours' ? 'afterHours' : 'noAgents');
      const at = avail.next_open && new Date(avail.next_open);
      if (at && !isNaN(at)) text += ' ' + t('backAt', { when: new Intl.DateTimeFormat(LANG, { weekday: 'short', hour: 'numeric', minute: '2-digit' }).format(at) });
      availBar.textContent = text;
      availBar.hidden = false;
    } else availBar.hidden = true;
    const mode = detailsMode();
    detailsBox.hidden = !mode;
    detailsBox.classList.toggle('prechat', mode === 'prechat');
    form.hidden = mode === 'prechat';
    log.hidden = mode === 'prechat'; // nothing to show before the first message anyway
    goBtn.hidden = mode !== 'prechat';
    if (mode === lastMode) return;
    lastMode = mode;
    intro.textContent = mode === 'prechat' ? t('prechatIntro') : '';
    intro.hidden = mode !== 'prechat';
    const shown = shownFields(mode), required = requiredFor(mode);
    for (const el of detailsBox.querySelectorAll('[data-field]')) {
      const name = el.dataset.field;
      el.hidden = !shown.includes(name);
      const control = el.lastChild;
      control.required = required.includes(name);
      el.firstChild.textContent = t({ name: 'yourName', email: 'yourEmail', department: 'department' }[name]) + (control.required ? '' : ' ' + t('optional'));
    }
    const d = details();
    if (!nameIn.value) nameIn.value = d.name || '';
    if (!emailIn.value) emailIn.value = d.email || '';
    deptIn.replaceChildren(h('option', { value: '', text: t('choose') }),
      ...((prechat && prechat.departments) || []).map((x) => h('option', { value: x.id, text: x.name })));
    deptIn.value = d.department || '';
  };
  const routingAdopt = (data) => {
    if (data.availability && typeof data.availability === 'object') avail = data.availability;
    if (data.prechat && typeof data.prechat === 'object') prechat = data.prechat;
    lastMode = null;
    render();
    availPoll();
  };
  // "No one is available" is asked again while it is shown in the open panel (every two
  // heartbeats, at most 20 s apart), so it goes when an agent comes online.
  let availTimer = null;
  const availPoll = () => {
    clearTimeout(availTimer);
    if (isOpen() && avail && !avail.open && avail.reason === 'no_agents_online') availTimer = setTimeout(availRefresh, Math.min(20000, 2 * heartbeatMs));
  };
  const availRefresh = async () => {
    if (!isOpen() || !token || state === 'fatal') return;
    try {
      // The same request as the session's (a token alone would not restore a verified user).
      const res = await fetch(ORIGIN + '/api/v1/visitor/session' + hints(), {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(sessionBody()[0]), credentials: 'omit',
      });
      const data = await res.json().catch(() => null);
      // Only availability (the visitor and its conversation are the session's business).
      if (res.ok && data && data.visitor_id === S.visitor) { routingAdopt(data); return; }
    } catch (_) { /* asked again later */ }
    availPoll();
  };
  // The details typed, checked against the form's rules; null (and a shown error) if not.
  const readDetails = (mode) => {
    const shown = shownFields(mode), required = requiredFor(mode);
    const values = { name: nameIn.value.trim(), email: emailIn.value.trim(), department: deptIn.value };
    for (const k of ['name', 'email', 'department']) {
      if (!shown.includes(k)) delete values[k];
      else if (!values[k] && required.includes(k)) { showDetailsError(k === 'email' && emailNeeded(mode) ? t('needEmail') : t('needed', { field: t({ name: 'yourName', email: 'yourEmail', department: 'department' }[k]) })); return null; }
    }
    if (values.email && !/^[^@\s]+@[^@\s]+$/.test(values.email)) { showDetailsError(t('badEmail')); return null; }
    detailsErr.hidden = true;
    return values;
  };
  const showDetailsError = (text) => { detailsErr.textContent = text; detailsErr.hidden = false; };
  // Tell the server who the visitor is (and the department); the stored token keeps the visitor.
  const postDetails = (values) => {
    const posting = sendDetails(values);
    detailsPosting = posting;
    posting.finally(() => { if (detailsPosting === posting) { detailsPosting = null; pump(); } });
    return posting;
  };
  const sendDetails = async (values) => {
    store.set('details', Object.assign(details(), values));
    const saved = store.get('token', null);
    const body = Object.assign({ site_key: siteKey }, routingDetails());
    if (saved && saved.token) body.token = saved.token;
    try {
      const res = await fetch(ORIGIN + '/api/v1/visitor/session' + hints(), {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), credentials: 'omit',
      });
      if (res.status === 400) {
        store.set('details', Object.assign(details(), { department: '' }));
        return false;
      }
      const data = await res.json().catch(() => null);
      // Only availability: its `conversation` may predate a message in flight right now.
      if (res.ok && data && data.token) routingAdopt(data);
    } catch (_) { /* the details are kept and sent with the next session */ }
    return true;
  };
  goBtn.addEventListener('click', async () => {
    const values = readDetails('prechat');
    if (!values) return;
    goBtn.disabled = true;
    const ok = await postDetails(values);
    goBtn.disabled = false;
    if (!ok) { showDetailsError(t('badDept')); return; }
    store.set('prechatDone', true);
    const held = !!need();
    store.set('prechatNeed', null);
    lastMode = null;
    render();
    if (held) pump(); // the refused message goes again, now that the server has the details
    input.focus();
  });
  // A first message refused for missing pre-chat fields: the form again (its settings
  // fetched anew: the page may have loaded before the site changed them), naming them.
  prechatRefused = (fields) => {
    const missing = ['name', 'email', 'department'].filter((k) => fields.includes(k));
    store.set('prechatNeed', missing); // [] (unknown fields) still holds: the form as configured
    store.set('prechatDone', false);
    const explain = () => {
      lastMode = null;
      render();
      if (missing.length) showDetailsError(t('needed', { field: t({ name: 'yourName', email: 'yourEmail', department: 'department' }[missing[0]]) }));
    };
    explain();
    sendDetails({}).then(explain);
  };
  // Capture: runs before the composer's own submit, and may stop it while details are bad.
  form.addEventListener('submit', (e) => {
    if (detailsMode() !== 'offline' || !input.value.trim()) return;
    const values = readDetails('offline');
    if (!values) { e.preventDefault(); e.stopImmediatePropagation(); return; }
    postDetails(values);
  }, true);


  // -- attachments (protocol "Attachments (v1.1)") --------------------------------------
  // A file is uploaded on its own (POST /api/v1/attachments, with progress, cancel and
  // retry), then sent through the outbox like any message, so the delivery guarantee is
  // unchanged. Names, types and sizes come from the server: text only, never markup.
  Object.assign(STRINGS.en, {
    attach: 'Attach a file', uploading: 'Uploading…', retry: 'Retry', upFailed: 'Upload failed.',
    tooBig: 'Not sent: the file is too large.', badType: 'Not sent: this type of file is not allowed.',
    asFile: 'Send as a text file', closeImage: 'Close image',
  });
  Object.assign(STRINGS['zh-CN'], {
    attach: '添加文件', uploading: '上传中…', retry: '重试', upFailed: '上传失败。',
    tooBig: '未发送：文件太大。', badType: '未发送：不允许此类文件。', asFile: '作为文本文件发送', closeImage: '关闭图片',
  });
  Object.assign(STRINGS['zh-TW'], {
    attach: '附加檔案', uploading: '上傳中…', retry: '重試', upFailed: '上傳失敗。',
    tooBig: '未傳送：檔案太大。', badType: '未傳送：不允許此類檔案。', asFile: '以文字檔傳送', closeImage: '關閉圖片',
  });
  const ATT_STYLE = `
.clip{width:38px;height:42px;padding:0;border:0;border-radius:10px;background:none;color:var(--muted);display:flex;align-items:center;justify-content:center;flex:none}
.bubble .att{display:block;margin-top:4px}
.thumb{padding:0;border:0;background:none;cursor:zoom-in}
.thumb img{display:block;max-width:100%;max-height:160px;border-radius:10px}
.up progress{display:block;width:160px;height:6px;margin-top:4px}
.asfile{display:block;margin:0 16px 4px auto;padding:3px 10px;border:1px solid var(--line);border-radius:8px;background:var(--bg);font-size:12.5px}
.drop .log{outline:3px dashed var(--accent);outline-offset:-6px}
.viewer{position:absolute;inset:0;z-index:3;display:flex;flex-direction:column;align-items:center;justify-content:center;padding:52px 12px 12px;background:rgba(10,14,22,.94);color:#fff}
.viewer img{min-height:0;max-width:100%;max-height:100%;object-fit:contain}
.viewer p{margin:8px 0 0;font-size:13px;overflow-wrap:anywhere}
.viewer .icon{position:absolute;top:8px;right:8px}`;
  if (shadow.adoptedStyleSheets && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
    const extra = new CSSStyleSheet();
    extra.replaceSync(ATT_STYLE);
    shadow.adoptedStyleSheets = [...shadow.adoptedStyleSheets, extra];
  } else shadow.append(h('style', { text: ATT_STYLE }));

  const IMAGE = /^image\/(png|jpeg|gif|webp)$/;
  // Only the server's own http(s) URLs; a relative one is the server's, not the page's.
  const safeUrl = (u) => { try { const x = new URL(String(u), ORIGIN); return /^https?:$/.test(x.protocol) ? x.href : null; } catch (_) { return null; } };
  attsFromWire = (list) => Array.isArray(list) ? list.slice(0, 10).filter((a) => a && a.id).map((a) => ({
    id: String(a.id), name: String(a.name || 'file'), size: Number(a.size) || 0, type: String(a.type || ''), url: safeUrl(a.url), expires_at: a.expires_at || null,
  })) : undefined;
  const fmtSize = (n) => n < 1024 ? num(n) + ' B' : n < 1048576 ? num(Math.round(n / 1024)) + ' KB' : (n / 1048576).toLocaleString(LANG, { maximumFractionDigits: 1 }) + ' MB';
  // A URL still good for a while, else a fresh one (GET /api/v1/attachments/{id}).
  // Uploads and renewals need the session's token: right after a reload it is on its way.
  const haveToken = async () => {
    ensureStarted();
    for (let i = 0; !token && i < 100 && state !== 'fatal'; i++) await new Promise((r) => setTimeout(r, 100));
  };
  const freshUrl = async (a, force) => {
    if (!force && a.url && Date.parse(a.expires_at) - Date.now() > 10000) return a.url;
    await haveToken();
    const res = await fetch(ORIGIN + '/api/v1/attachments/' + encodeURIComponent(a.id), { headers: { Authorization: 'Bearer ' + token }, credentials: 'omit' });
    const d = res.ok ? await res.json() : {};
    if (safeUrl(d.url)) { a.url = safeUrl(d.url); a.expires_at = d.expires_at; save(); }
    return a.url;
  };
  const showImage = (img, a) => {
    let again = true;
    img.onerror = () => { if (again) { again = false; freshUrl(a, true).then((u) => { if (u) img.src = u; }, () => {}); } };
    freshUrl(a).then((u) => { if (u) img.src = u; }, () => {});
  };
  const attNode = (a) => {
    const label = a.name + ' · ' + fmtSize(a.size);
    if (IMAGE.test(a.type)) {
      const img = h('img', { alt: a.name, title: label });
      showImage(img, a);
      return h('button', { class: 'att thumb', type: 'button', 'aria-label': label, onclick: (e) => openViewer(a, e.currentTarget) }, img);
    }
    const link = h('a', { class: 'att', href: a.url || '#', download: a.name, target: '_blank', rel: 'noopener noreferrer', text: label });
    link.addEventListener('click', (e) => {
      if (a.url && Date.parse(a.expires_at) - Date.now() > 10000) return;
      e.preventDefault(); // expired: ask for a fresh URL, then follow it
      freshUrl(a, true).then((u) => { if (u) { link.href = u; window.open(u, '_blank', 'noopener'); } }, () => {});
    });
    return link;
  };
  withAtts = (content, att) => {
    if (!att || !att.length) return content;
    const f = document.createDocumentFragment();
    f.append(content, ...att.map(attNode));
    return f;
  };

  // The larger view of an image: over the panel, closed by Escape, its button or a click.
  const viewerImg = h('img', {});
  const viewerName = h('p', {});
  const viewerClose = h('button', { class: 'icon', type: 'button', 'aria-label': t('closeImage'), title: t('closeImage') }, icon('close', 26));
  const viewer = h('div', { class: 'viewer', role: 'dialog', 'aria-modal': 'true', 'aria-label': t('closeImage'), hidden: true }, viewerClose, viewerImg, viewerName);
  let viewerFrom = null;
  const openViewer = (a, from) => {
    viewerFrom = from;
    viewerImg.removeAttribute('src');
    viewerImg.alt = a.name;
    viewerName.textContent = a.name + ' · ' + fmtSize(a.size);
    showImage(viewerImg, a);
    viewer.setAttribute('aria-label', a.name);
    viewer.hidden = false;
    viewerClose.focus();
  };
  closeViewer = () => {
    if (viewer.hidden) return false;
    viewer.hidden = true;
    if (viewerFrom && viewerFrom.isConnected) viewerFrom.focus();
    return true;
  };
  viewer.addEventListener('click', (e) => { if (e.target !== viewerImg) closeViewer(); });
  viewer.addEventListener('keydown', (e) => { if (e.key === 'Tab') { e.preventDefault(); viewerClose.focus(); } }); // modal
  panel.append(viewer);

  // Uploads in progress or failed: {key, file, loaded, xhr, code}, shown at the log's end.
  let ups = [];
  const upMsg = (code) => t(code === 'too_large' ? 'tooBig' : code === 'type_not_allowed' ? 'badType' : 'upFailed');
  const upDone = (u) => { ups = ups.filter((x) => x !== u); render(); };
  const upload = async (file, u) => {
    if (!u) { u = { key: uuid(), file }; ups.push(u); }
    u.code = null;
    u.loaded = 0;
    stickToBottom = true;
    render();
    await haveToken();
    const c = S.cur && S.convs[S.cur];
    const body = new FormData();
    if (c && !c.closed && !c.gone) body.append('conv', S.cur);
    body.append('file', file, file.name || 'file');
    const xhr = (u.xhr = new XMLHttpRequest());
    xhr.open('POST', ORIGIN + '/api/v1/attachments');
    xhr.setRequestHeader('Authorization', 'Bearer ' + token);
    xhr.responseType = 'json';
    xhr.upload.onprogress = (e) => { u.loaded = e.loaded; if (u.bar) u.bar.value = e.total ? e.loaded / e.total : 0; };
    xhr.onload = () => {
      const d = xhr.response || {};
      if (xhr.status === 201 && d.id) { upDone(u); enqueue('', attsFromWire([d])); return; }
      failed((d.error && d.error.code) || 'failed');
    };
    const failed = (code) => { u.code = code; u.xhr = null; render(); announce(upMsg(code)); };
    xhr.onerror = () => failed('network');
    xhr.send(body);
  };
  const uploadAll = (files) => { for (const f of files || []) upload(f); };
  uploadItems = (items) => ups.forEach((u) => items.push({
    key: 'u:' + u.key, sig: String(u.code),
    make: () => {
      const f = u.file, bar = (u.bar = u.code ? null : h('progress', { max: '1', value: '0' }));
      const retry = u.code && u.code !== 'too_large' && u.code !== 'type_not_allowed';
      return bubble('own pending up' + (u.code ? ' failed' : ''), null, [f.name || 'file', ' · ', fmtSize(f.size)].join(''), h('div', { class: 'foot', role: u.code ? 'alert' : null },
        u.code ? upMsg(u.code) : bar, u.code ? null : t('uploading'),
        retry ? h('button', { type: 'button', text: t('retry'), onclick: () => upload(f, u) }) : null,
        h('button', { type: 'button', text: t(u.code ? 'dismiss' : 'cancel'), onclick: () => { if (u.xhr) u.xhr.abort(); upDone(u); } })));
    },
  }));

  const picker = h('input', { type: 'file', multiple: true, hidden: true, onchange: () => { uploadAll(picker.files); picker.value = ''; } });
  const clip = h('button', { class: 'clip', type: 'button', 'aria-label': t('attach'), title: t('attach'), onclick: () => picker.click() }, icon('clip', 22));
  input.before(clip, picker);
  input.addEventListener('paste', (e) => {
    const files = e.clipboardData && e.clipboardData.files;
    if (files && files.length) { e.preventDefault(); uploadAll(files); }
  });
  panel.addEventListener('dragover', (e) => {
    if (![...e.dataTransfer.types].includes('Files')) return;
    e.preventDefault();
    root.classList.add('drop');
  });
  panel.addEventListener('dragleave', (e) => { if (!panel.contains(e.relatedTarget)) root.classList.remove('drop'); });
  panel.addEventListener('drop', (e) => {
    root.classList.remove('drop');
    if (!e.dataTransfer.files.length) return;
    e.preventDefault();
    uploadAll(e.dataTransfer.files);
  });
  // A text over the limit may go as a text file instead of being shortened.
  const asFile = h('button', { class: 'asfile', type: 'button', text: t('asFile'), hidden: true, onclick: () => {
    const text = input.value;
    input.value = '';
    grow();
    render();
    upload(new File([text], 'message.txt', { type: 'text/plain' }));
    input.focus();
  } });
  count.after(asFile);
  overLimit = (over) => { asFile.hidden = !over; };

  // -- start -------------------------------------------------------------------------
  const mount = () => {
    // On <html>, not <body>: a transform or filter on the body would trap position:fixed.
    document.documentElement.append(host);
    renderNow();
    performance.mark && performance.mark('steadydesk:launcher', { detail: { sinceScript: performance.now() - T0 } });
    const ui = store.get('ui', {});
    if (TRACK || outbox.length || S.order.length || store.get('token', null)) ensureStarted();
    if (ui.open) open(false);
  };
  window.SteadyDeskWidget = { open, close, toggle: () => (isOpen() ? close() : open()), version: VERSION };
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount, { once: true });
})();
