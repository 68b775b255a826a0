// The access graph: GET ../v1/insights (the mapper's shadow-mode insights, docs/insights.md) drawn as SVG —
// one box per namespace, its workloads inside, each call an arrow coloured by its state, each server marked
// enforced or shadow and ready to protect or not. Polls every few seconds with If-None-Match: the mapper
// answers 304 while nothing changed, and the drawing is redone only when the answer changes, keeping what is
// selected. Page parameters (for tests and big clusters): ?poll=MS (at least 250), ?max=N (workloads drawn
// one by one before namespaces are drawn whole, default 120).
'use strict';

(() => {
  const API = '../v1/insights';
  const params = new URLSearchParams(window.location.search);
  const POLL_MS = Math.max(250, Number(params.get('poll')) || 3000);
  const MAX_WORKLOADS = Math.max(1, Number(params.get('max')) || 120);
  const SVG_NS = 'http://www.w3.org/2000/svg';

  // The states of a call, from the least to the most urgent.
  const STATES = {
    declared: 'declared and seen',
    unseen: 'declared, not seen',
    undeclared: 'seen, not declared: would be blocked once its server is protected',
    blocked: 'blocked now',
  };
  const RANK = { declared: 0, unseen: 1, undeclared: 2, blocked: 3 };

  // Sizes of the drawing, in pixels.
  const NODE_W = 190;
  const NODE_H = 46;
  const NODE_GAP = 18;
  const INNER_GAP = 70;
  const NS_PAD = 16;
  const NS_HEAD = 30;
  const COL_GAP = 120;
  const ROW_GAP = 60;
  const MARGIN = 24;
  const MAX_COLUMNS = 4;
  const PER_COLUMN = 12;
  const NAME_CHARS = 23;

  const state = {
    data: null,
    etag: null,
    selection: null, // {kind: 'call' | 'server' | 'namespace', key}
    updates: 0,
    timer: null,
  };

  const $ = (id) => document.getElementById(id);

  function svg(tag, attrs, parent) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== undefined && value !== null) node.setAttribute(name, String(value));
    }
    if (parent) parent.appendChild(node);
    return node;
  }

  function html(tag, text, parent, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    if (parent) parent.appendChild(node);
    return node;
  }

  const workloadKey = (w) => `${w.namespace}/${w.name}`;
  const callKey = (client, server) => `${workloadKey(client)}->${workloadKey(server)}`;
  const byText = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

  function shortName(name) {
    return name.length > NAME_CHARS ? `${name.slice(0, NAME_CHARS - 1)}…` : name;
  }

  function callState(call) {
    if (call.now && call.now.state === 'blocked') return 'blocked';
    return call.declared ? 'declared' : 'undeclared';
  }

  // Every call of the answer (discovered, and declared but not seen) with its state.
  function allCalls(data) {
    const calls = data.calls.map((call) => ({
      key: callKey(call.client, call.server),
      client: call.client,
      server: call.server,
      state: callState(call),
      insight: call,
    }));
    for (const declared of data.declared_not_seen || []) {
      calls.push({
        key: callKey(declared.client, declared.server),
        client: declared.client,
        server: declared.server,
        state: 'unseen',
        insight: null,
      });
    }
    return calls;
  }

  function namespacesOf(data) {
    const names = new Set();
    for (const call of allCalls(data)) {
      names.add(call.client.namespace);
      names.add(call.server.namespace);
    }
    for (const server of data.servers) names.add(server.server.namespace);
    return [...names].sort(byText);
  }

  // What the filter shows: the calls from or to the namespace (all without one), the workloads at their
  // ends and every workload of the namespace.
  function view(data, namespace) {
    const servers = new Map(data.servers.map((s) => [workloadKey(s.server), s]));
    const calls = allCalls(data).filter(
      (c) => !namespace || c.client.namespace === namespace || c.server.namespace === namespace,
    );
    const workloads = new Map();
    const add = (w) => {
      const key = workloadKey(w);
      if (!workloads.has(key)) {
        workloads.set(key, { key, namespace: w.namespace, name: w.name, kind: w.kind || null, server: servers.get(key) || null });
      }
    };
    for (const call of calls) {
      add(call.client);
      add(call.server);
    }
    for (const server of data.servers) {
      if (!namespace || server.server.namespace === namespace) add(server.server);
    }
    return { calls, workloads: [...workloads.values()], servers };
  }

  // Positions: namespaces in a grid (sorted by name, at most MAX_COLUMNS across); in each, its groups side
  // by side — the workloads that only call on the left, those called on the right, so that most calls run
  // left to right — each group sorted by name, in columns of at most PER_COLUMN. Deterministic: the same
  // answer gives the same picture.
  function layout(boxes) {
    const names = [...boxes.keys()].sort(byText);
    const columns = Math.min(MAX_COLUMNS, Math.max(1, Math.ceil(Math.sqrt(names.length))));
    const sizes = new Map();
    for (const name of names) {
      const groups = boxes.get(name).filter((group) => group.length > 0);
      const rows = Math.max(1, Math.min(PER_COLUMN, Math.max(0, ...groups.map((g) => g.length))));
      const spans = groups.map((g) => Math.ceil(g.length / rows));
      const inner = spans.reduce((a, b) => a + b, 0);
      sizes.set(name, {
        groups,
        rows,
        spans,
        width: inner * NODE_W + Math.max(0, inner - 1) * INNER_GAP + 2 * NS_PAD,
        height: NS_HEAD + rows * NODE_H + (rows - 1) * NODE_GAP + NS_PAD,
      });
    }
    const columnWidth = new Array(columns).fill(0);
    names.forEach((name, i) => {
      columnWidth[i % columns] = Math.max(columnWidth[i % columns], sizes.get(name).width);
    });
    const columnX = [];
    let x = MARGIN;
    for (const width of columnWidth) {
      columnX.push(x);
      x += width + COL_GAP;
    }
    const placed = [];
    const nodes = new Map();
    let y = MARGIN;
    for (let start = 0; start < names.length; start += columns) {
      const row = names.slice(start, start + columns);
      let rowHeight = 0;
      row.forEach((name, column) => {
        const size = sizes.get(name);
        const box = { name, x: columnX[column], y, width: size.width, height: size.height };
        placed.push(box);
        let first = 0;
        size.groups.forEach((group, g) => {
          group.forEach((item, i) => {
            const inner = first + Math.floor(i / size.rows);
            nodes.set(item.key, {
              item,
              x: box.x + NS_PAD + inner * (NODE_W + INNER_GAP),
              y: box.y + NS_HEAD + (i % size.rows) * (NODE_H + NODE_GAP),
            });
          });
          first += size.spans[g];
        });
        rowHeight = Math.max(rowHeight, size.height);
      });
      y += rowHeight + ROW_GAP;
    }
    const width = Math.max(...columnWidth.map((w, i) => columnX[i] + w), 0) + MARGIN;
    return { boxes: placed, nodes, width, height: y - ROW_GAP + MARGIN };
  }

  // The path of a call between two placed nodes: out of the side facing the server, into the side facing
  // the client; beside each other (one column), out of and into the right sides, bulging right.
  function route(edges, nodes) {
    const ends = new Map(); // `${key}|${side}` -> [{edge, end, other}]
    const endAt = (key, side, edge, end, other) => {
      const slot = `${key}|${side}`;
      if (!ends.has(slot)) ends.set(slot, []);
      ends.get(slot).push({ edge, end, other });
    };
    for (const edge of edges) {
      const from = nodes.get(edge.from);
      const to = nodes.get(edge.to);
      if (from === to) {
        edge.sides = ['r', 'r'];
      } else if (to.x >= from.x + NODE_W / 2) {
        edge.sides = ['r', 'l'];
      } else if (to.x + NODE_W / 2 <= from.x) {
        edge.sides = ['l', 'r'];
      } else {
        edge.sides = ['r', 'r'];
      }
      endAt(edge.from, edge.sides[0], edge, 0, to);
      endAt(edge.to, edge.sides[1], edge, 1, from);
      edge.points = [null, null];
    }
    // Spread the ends meeting one side over its height, in the order of the other ends' heights.
    for (const [slot, list] of ends) {
      const key = slot.slice(0, slot.lastIndexOf('|'));
      const side = slot.slice(slot.lastIndexOf('|') + 1);
      const node = nodes.get(key);
      list.sort((a, b) => a.other.y - b.other.y || byText(a.edge.key, b.edge.key) || a.end - b.end);
      const x = side === 'r' ? node.x + NODE_W : node.x;
      list.forEach((entry, i) => {
        const y = node.y + (NODE_H * (i + 1)) / (list.length + 1);
        entry.edge.points[entry.end] = { x, y };
      });
    }
    for (const edge of edges) {
      const [a, b] = edge.points;
      const out = edge.sides[0] === 'r' ? 1 : -1;
      const into = edge.sides[1] === 'r' ? 1 : -1;
      const reach = edge.sides[0] === edge.sides[1]
        ? 45 + 0.2 * Math.abs(b.y - a.y)
        : Math.max(40, Math.abs(b.x - a.x) / 2);
      // The last stretch runs straight into the node, so that the arrowhead points at it.
      const tip = { x: b.x + into * 8, y: b.y };
      edge.d = `M${a.x},${a.y} C${a.x + out * reach},${a.y} ${tip.x + into * reach},${tip.y} ${tip.x},${tip.y} L${b.x},${b.y}`;
      // How far right the curve reaches (control points bound a Bézier curve).
      edge.right = Math.max(a.x, a.x + out * reach, tip.x + into * reach, b.x);
      edge.middle = {
        x: (a.x + tip.x) / 2 + (edge.sides[0] === edge.sides[1] ? out * reach * 0.75 : 0),
        y: (a.y + tip.y) / 2,
      };
    }
  }

  function defineArrows(root) {
    const defs = svg('defs', {}, root);
    for (const name of Object.keys(STATES)) {
      const marker = svg('marker', {
        id: `arrow-${name}`,
        viewBox: '0 0 10 10',
        refX: 9,
        refY: 5,
        markerWidth: 9,
        markerHeight: 9,
        markerUnits: 'userSpaceOnUse',
        orient: 'auto',
      }, defs);
      svg('path', { d: 'M0,0 L10,5 L0,10 z', class: `arrow state-${name}` }, marker);
    }
  }

  function drawNamespaces(root, boxes) {
    for (const box of boxes) {
      const group = svg('g', { class: 'namespace', 'data-namespace': box.name }, root);
      svg('rect', { class: 'namespace-box', x: box.x, y: box.y, width: box.width, height: box.height, rx: 8 }, group);
      const title = svg('text', { class: 'namespace-title', x: box.x + NS_PAD, y: box.y + 20 }, group);
      title.textContent = box.name;
    }
  }

  function serverNote(server) {
    const enforcement = server.enforcement.state === 'not_watched' ? 'not watched' : server.enforcement.state;
    return `${enforcement} · ${server.ready_to_protect ? 'ready to protect' : 'not ready'}`;
  }

  function drawWorkload(root, placed) {
    const { item, x, y } = placed;
    const server = item.server;
    const group = svg('g', { class: 'workload', 'data-workload': item.key, tabindex: 0, role: 'button' }, root);
    if (server) {
      group.setAttribute('data-server', item.key);
      group.setAttribute('data-enforcement', server.enforcement.state);
      group.setAttribute('data-ready', String(server.ready_to_protect));
    }
    const enforcement = server ? ` enforcement-${server.enforcement.state}` : '';
    svg('rect', { class: `node${enforcement}`, x, y, width: NODE_W, height: NODE_H, rx: 6 }, group);
    const title = svg('title', {}, group);
    title.textContent = item.key;
    const name = svg('text', { class: 'node-name', x: x + 10, y: y + 19 }, group);
    name.textContent = shortName(item.name);
    const note = svg('text', {
      class: `node-note${server && server.enforcement.state === 'enforced' ? ' enforced' : ''}`,
      x: x + 10,
      y: y + 36,
    }, group);
    note.textContent = server ? serverNote(server) : (item.kind || 'client');
    if (server) {
      const ready = server.ready_to_protect ? 'ready-yes' : 'ready-no';
      svg('circle', { class: `ready-mark ${ready}`, cx: x + NODE_W - 14, cy: y + 14, r: 8 }, group);
      const glyph = svg('text', { class: `ready-glyph ${ready}`, x: x + NODE_W - 14, y: y + 18 }, group);
      glyph.textContent = server.ready_to_protect ? '✓' : '!';
    }
    group.addEventListener('click', () => select({ kind: 'server', key: item.key }));
    return group;
  }

  function drawNamespaceNode(root, placed) {
    const { item, x, y } = placed;
    const group = svg('g', { class: 'namespace-node', 'data-namespace-node': item.key, tabindex: 0, role: 'button' }, root);
    svg('rect', { class: 'node', x, y, width: NODE_W, height: NODE_H, rx: 6 }, group);
    const name = svg('text', { class: 'node-name', x: x + 10, y: y + 19 }, group);
    name.textContent = shortName(item.key);
    const note = svg('text', { class: 'node-note', x: x + 10, y: y + 36 }, group);
    note.textContent = `${item.count} workload(s): choose to see them`;
    group.addEventListener('click', () => choose(item.key));
  }

  function drawCall(root, edge) {
    const group = svg('g', {
      class: `call state-${edge.state}`,
      'data-call': edge.key,
      'data-state': edge.state,
      tabindex: 0,
      role: 'button',
    }, root);
    if (edge.count) group.setAttribute('data-count', String(edge.count));
    const title = svg('title', {}, group);
    title.textContent = `${edge.key}: ${STATES[edge.state]}`;
    svg('path', { class: `edge state-${edge.state}`, d: edge.d, 'marker-end': `url(#arrow-${edge.state})` }, group);
    svg('path', { class: 'hit', d: edge.d }, group);
    if (edge.count) {
      const count = svg('text', { class: 'edge-count', x: edge.middle.x, y: edge.middle.y - 4 }, group);
      count.textContent = String(edge.count);
    }
    group.addEventListener('click', () => select({ kind: edge.aggregate ? 'between' : 'call', key: edge.key }));
  }

  // The drawing of the current answer under the current filter.
  function draw() {
    const root = $('graph');
    root.replaceChildren();
    defineArrows(root);
    const namespace = $('namespace').value;
    const shown = view(state.data, namespace);
    const collapsed = shown.workloads.length > MAX_WORKLOADS;
    let edges;
    let placed;
    if (collapsed) {
      // Too many to draw one by one: one node per namespace, the calls between two namespaces as one
      // arrow (its state the most urgent of theirs, its count on it).
      const counts = new Map();
      for (const w of shown.workloads) counts.set(w.namespace, (counts.get(w.namespace) || 0) + 1);
      const boxes = new Map();
      for (const [name, count] of counts) boxes.set(name, [[{ key: name, count }]]);
      placed = layout(boxes);
      const between = new Map();
      for (const call of shown.calls) {
        const key = `${call.client.namespace}->${call.server.namespace}`;
        const edge = between.get(key) || {
          key, from: call.client.namespace, to: call.server.namespace, state: call.state, count: 0, aggregate: true, calls: [],
        };
        edge.count += 1;
        edge.calls.push(call);
        if (RANK[call.state] > RANK[edge.state]) edge.state = call.state;
        between.set(key, edge);
      }
      edges = [...between.values()].sort((a, b) => byText(a.key, b.key));
    } else {
      const called = new Set(shown.calls.map((c) => workloadKey(c.server)));
      const boxes = new Map();
      for (const w of shown.workloads) {
        if (!boxes.has(w.namespace)) boxes.set(w.namespace, [[], []]);
        boxes.get(w.namespace)[called.has(w.key) || w.server ? 1 : 0].push(w);
      }
      for (const groups of boxes.values()) {
        for (const group of groups) group.sort((a, b) => byText(a.name, b.name));
      }
      placed = layout(boxes);
      edges = shown.calls
        .map((call) => ({ ...call, from: workloadKey(call.client), to: workloadKey(call.server) }))
        .sort((a, b) => byText(a.key, b.key) || RANK[a.state] - RANK[b.state]);
    }
    route(edges, placed.nodes);
    const width = Math.ceil(Math.max(placed.width, ...edges.map((e) => e.right + MARGIN)));
    root.setAttribute('width', width);
    root.setAttribute('height', placed.height);
    root.setAttribute('viewBox', `0 0 ${width} ${placed.height}`);
    root.setAttribute('data-collapsed', String(collapsed));
    drawNamespaces(root, placed.boxes);
    const callLayer = svg('g', { class: 'calls' }, root);
    const nodeLayer = svg('g', { class: 'workloads' }, root);
    for (const node of placed.nodes.values()) {
      if (collapsed) drawNamespaceNode(nodeLayer, node);
      else drawWorkload(nodeLayer, node);
    }
    for (const edge of edges) drawCall(callLayer, edge);
    state.shown = { collapsed, edges, workloads: shown.workloads, servers: shown.servers };
    root.setAttribute('data-draws', String(Number(root.getAttribute('data-draws') || 0) + 1));
    summarize(shown, collapsed);
    showSelection();
  }

  function summarize(shown, collapsed) {
    const count = (name) => shown.calls.filter((c) => c.state === name).length;
    const ready = [...shown.servers.values()].filter((s) => shown.workloads.some((w) => w.key === workloadKey(s.server)) && s.ready_to_protect).length;
    const servers = shown.workloads.filter((w) => w.server).length;
    let text = `${shown.calls.length} call(s): ${count('blocked')} blocked now, ${count('undeclared')} not declared, `
      + `${count('unseen')} declared and not seen · ${servers} server(s), ${ready} ready to protect`;
    if (collapsed) {
      text += ` · ${shown.workloads.length} workloads: namespaces drawn whole, choose one to see its workloads`;
    }
    $('summary').textContent = text;
  }

  function outcome(o) {
    if (!o) return '—';
    if (o.state === 'allowed') return 'allowed';
    if (o.state === 'blocked') {
      const by = o.by.map((b) => `${b.policy.namespace}/${b.policy.name} (${b.holt ? "Holt's" : "another's"}, ${b.direction})`);
      return `blocked on ${o.port}/${o.protocol} by ${by.join(', ') || 'no policy named'}`;
    }
    return `not evaluated: ${o.reason}`;
  }

  function entry(list, term, value) {
    html('dt', term, list);
    if (Array.isArray(value)) {
      const dd = html('dd', null, list);
      if (value.length === 0) dd.textContent = 'none';
      else {
        const ul = html('ul', null, dd);
        for (const item of value) html('li', item, ul);
      }
    } else {
      html('dd', value, list);
    }
  }

  function stateLine(list, name) {
    html('dt', 'State', list);
    const dd = html('dd', null, list);
    html('span', STATES[name], dd, `state-name-${name}`);
  }

  // The details panel of what is selected (found again in the current answer).
  function showSelection() {
    for (const node of document.querySelectorAll('.selected')) node.classList.remove('selected');
    const panel = $('details');
    panel.replaceChildren();
    const chosen = state.selection;
    if (!chosen) {
      html('p', 'Click a call or a server for its details.', panel, 'hint');
      panel.removeAttribute('data-selected');
      return;
    }
    panel.setAttribute('data-selected', `${chosen.kind}:${chosen.key}`);
    const shown = state.shown;
    if (chosen.kind === 'call' || chosen.kind === 'between') {
      const edge = shown.edges.find((e) => e.key === chosen.key);
      if (!edge) {
        html('h2', chosen.key, panel);
        html('p', 'This call is not drawn any more: filtered out, or gone from the mapper.', panel, 'hint');
        return;
      }
      const node = document.querySelector(`[data-call="${CSS.escape(edge.key)}"]`);
      if (node) node.classList.add('selected');
      html('h2', edge.key.replace('->', ' → '), panel);
      const list = html('dl', null, panel);
      stateLine(list, edge.state);
      if (edge.aggregate) {
        entry(list, 'Calls', edge.calls.map((c) => `${c.key.replace('->', ' → ')}: ${STATES[c.state]}`));
        return;
      }
      if (!edge.insight) {
        entry(list, 'Declared', 'yes (a ClientIntents or the server\'s called-by annotation)');
        entry(list, 'Seen', 'no: the mapper has not seen this call');
        return;
      }
      const call = edge.insight;
      entry(list, 'Declared', call.declared ? 'yes' : 'no');
      entry(list, 'Ports evaluated', call.ports.length ? call.ports.map((p) => `${p}/TCP`).join(', ') : 'none');
      entry(list, 'Now', outcome(call.now));
      entry(list, 'If its server is protected', outcome(call.if_protected));
      entry(list, 'If the mode is defaultActive', outcome(call.if_active));
      return;
    }
    const server = shown.servers.get(chosen.key);
    const drawn = shown.workloads.some((w) => w.key === chosen.key);
    const node = document.querySelector(`[data-workload="${CSS.escape(chosen.key)}"]`);
    if (node) node.classList.add('selected');
    html('h2', chosen.key, panel);
    if (!drawn) {
      html('p', 'This workload is not drawn any more: filtered out, or gone from the mapper.', panel, 'hint');
      return;
    }
    const list = html('dl', null, panel);
    const calls = shown.edges.filter((e) => !e.aggregate && (e.from === chosen.key || e.to === chosen.key));
    if (!server) {
      entry(list, 'Role', 'client only: no discovered call reaches it');
      entry(list, 'Calls', calls.map((c) => `${c.key.replace('->', ' → ')}: ${STATES[c.state]}`));
      return;
    }
    const names = (list) => list.map(workloadKey);
    entry(list, 'Enforcement', `${server.enforcement.state} (${server.enforcement.why})`);
    entry(list, 'Ready to protect', server.ready_to_protect
      ? 'yes: every client seen calling it is declared'
      : 'no: a client seen calling it is not declared');
    entry(list, 'Undeclared clients', names(server.undeclared_clients));
    entry(list, 'Blocked once protected', names(server.blocked_if_protected));
    entry(list, 'Clients seen', names(server.clients));
    const unseen = calls.filter((c) => c.to === chosen.key && c.state === 'unseen').map((c) => workloadKey(c.client));
    entry(list, 'Declared clients not seen', unseen);
  }

  function select(selection) {
    state.selection = selection;
    showSelection();
  }

  function choose(namespace) {
    const select = $('namespace');
    if ([...select.options].some((o) => o.value === namespace)) {
      select.value = namespace;
      draw();
    }
  }

  function fillNamespaces(data) {
    const select = $('namespace');
    const current = select.value;
    const names = namespacesOf(data);
    const wanted = ['', ...names];
    const have = [...select.options].map((o) => o.value);
    if (wanted.join('\n') !== have.join('\n')) {
      select.replaceChildren();
      html('option', 'All namespaces', select).value = '';
      for (const name of names) html('option', name, select).value = name;
    }
    select.value = names.includes(current) ? current : '';
  }

  function setStatus(text, problem) {
    const status = $('status');
    status.textContent = text;
    status.classList.toggle('problem', Boolean(problem));
  }

  const time = () => new Date().toLocaleTimeString();

  function explain(response, body) {
    switch (response.status) {
      case 401:
      case 403:
        return `The mapper answered ${response.status}: it asks who you are. Open this page through `
          + '`holt mapper ui` (it passes your token on), or start the mapper with '
          + '--insecure-skip-authentication for local development. ' + body.trim();
      case 404:
        return `The mapper answered 404: ${body.trim()}`;
      case 503:
        return `The mapper is not ready: ${body.trim()}; trying again.`;
      default:
        return `The mapper answered ${response.status}: ${body.trim()}`;
    }
  }

  async function poll() {
    try {
      const headers = state.etag ? { 'If-None-Match': state.etag } : {};
      const response = await fetch(API, { headers, cache: 'no-store', credentials: 'same-origin' });
      if (response.status === 304) {
        setStatus(`Up to date; checked ${time()}.`);
      } else if (response.ok) {
        const data = await response.json();
        state.etag = response.headers.get('ETag');
        state.data = data;
        state.updates += 1;
        document.body.setAttribute('data-updates', String(state.updates));
        fillNamespaces(data);
        draw();
        setStatus(`Updated ${time()}; following the mapper every ${POLL_MS / 1000} s.`);
      } else {
        setStatus(explain(response, await response.text()), true);
      }
    } catch (error) {
      setStatus(`Cannot reach the mapper (${error.message}); trying again.`, true);
    }
    state.timer = window.setTimeout(poll, POLL_MS);
  }

  function start() {
    $('namespace').addEventListener('change', () => {
      if (state.data) draw();
    });
    document.addEventListener('keydown', (event) => {
      if ((event.key === 'Enter' || event.key === ' ') && event.target instanceof SVGElement) {
        const target = event.target.closest('[role="button"]');
        if (target) {
          event.preventDefault();
          target.dispatchEvent(new MouseEvent('click', { bubbles: true }));
        }
      } else if (event.key === 'Escape') {
        select(null);
      }
    });
    poll();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
