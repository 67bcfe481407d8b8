// A scripted SMSC for the SMPP provider's tests, on the npm `smpp` package's server.
//
// Usage: node smsc.js PORT 'JSON settings'. Settings (all optional):
//   system_id, password       what a bind must carry (else refused with refuse_status)
//   refuse_status             status of a refused bind (default 0x0E ESME_RINVPASWD)
//   bind_silent               never answer a bind
//   submit_status             status for every submit_sm (0: accepted with an id)
//   throttle_first            answer the first N submit_sm with throttle_status
//   throttle_status           default 0x58 ESME_RTHROTTLED
//   delay_ms                  answer submit_sm this late
//   hold                      never answer submit_sm
//   receipt                   "tlv" or "text": send a receipt after each accepted part
//   receipt_stat              stat of those receipts (default DELIVRD)
//   receipt_delay_ms          delay before those receipts
//   id_prefix                 prefix of message ids (default "m")
//   quiet                     report no submit, submit_resp or message (benchmarks):
//                             only a `count` report every 1000 submits
// Commands on stdin, one JSON object a line: {"cmd":"set",...settings}, {"cmd":"drop"}
// (destroy every connection), {"cmd":"unbind"}, {"cmd":"garbage"} (a malformed PDU),
// {"cmd":"generic_nack"}, {"cmd":"receipt","id":..,"form":"tlv"|"text","stat":..},
// {"cmd":"mo"}, {"cmd":"release"} (answer held submits).
// Reports on stdout, one JSON object a line: listening, bind, bound, bind_refused, unbind,
// submit (every field a test checks), submit_resp, message (a whole text reassembled
// from its parts: UDH, sar TLVs or message_payload), deliver_sm_resp, enquire_link,
// unbind_resp, close.
'use strict';
const smpp = require('smpp');
const readline = require('readline');

const port = parseInt(process.argv[2], 10);
const cfg = Object.assign({
  system_id: 'otpgw', password: 'secret', refuse_status: 0x0E, bind_silent: false,
  submit_status: 0, throttle_first: 0, throttle_status: 0x58, delay_ms: 0, hold: false,
  receipt: null, receipt_stat: 'DELIVRD', receipt_delay_ms: 0, id_prefix: 'm', quiet: false,
}, JSON.parse(process.argv[3] || '{}'));

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const sessions = new Set();
const held = [];
const partsByRef = new Map();
let submits = 0;
let nextId = 1;

const STATES = { DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8, ENROUTE: 1 };

function textOf(sm) {
  if (sm === undefined || sm === null) return { text: '', udh: [] };
  if (typeof sm === 'string') return { text: sm, udh: [] };
  if (Buffer.isBuffer(sm)) return { text: sm.toString('latin1'), udh: [] };
  const m = sm.message;
  return {
    text: Buffer.isBuffer(m) ? m.toString('latin1') : (m || ''),
    udh: (sm.udh || []).map((b) => Buffer.from(b)),
  };
}

function assemble(key, total, seq, text, how) {
  if (!partsByRef.has(key)) partsByRef.set(key, new Map());
  const parts = partsByRef.get(key);
  parts.set(seq, text);
  if (parts.size === total) {
    let whole = '';
    for (let i = 1; i <= total; i++) whole += parts.get(i);
    partsByRef.delete(key);
    out({ event: 'message', text: whole, parts: total, how });
  }
}

function sendReceipt(session, id, form, stat) {
  const now = new Date();
  const d = now.toISOString().replace(/[-T:]/g, '').slice(2, 12);
  const pdu = {
    source_addr: '447700900000', destination_addr: 'otpgw', esm_class: 0x04, data_coding: 0,
  };
  if (form === 'tlv') {
    pdu.receipted_message_id = id;
    pdu.message_state = STATES[stat] || 7;
    pdu.short_message = Buffer.alloc(0);
  } else {
    pdu.short_message = Buffer.from(
      `id:${id} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} submit date:${d} done date:${d} stat:${stat} err:000 text:`,
      'latin1');
  }
  session.deliver_sm(pdu);
  out({ event: 'receipt_sent', id, form, stat });
}

function onSubmit(session, pdu) {
  submits += 1;
  const n = submits;
  if (cfg.quiet) {
    const id = cfg.id_prefix + (nextId++).toString(16).padStart(8, '0');
    session.send(pdu.response({ message_id: id }));
    if (n % 1000 === 0) out({ event: 'count', n });
    return;
  }
  const { text, udh } = textOf(pdu.short_message);
  const payload = pdu.message_payload !== undefined ? textOf(pdu.message_payload).text : null;
  const sar = pdu.sar_msg_ref_num !== undefined
    ? [pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum] : null;
  out({
    event: 'submit', n, source_addr: pdu.source_addr, source_addr_ton: pdu.source_addr_ton,
    source_addr_npi: pdu.source_addr_npi, destination_addr: pdu.destination_addr,
    dest_addr_ton: pdu.dest_addr_ton, dest_addr_npi: pdu.dest_addr_npi, esm_class: pdu.esm_class,
    data_coding: pdu.data_coding, registered_delivery: pdu.registered_delivery,
    service_type: pdu.service_type, text, udh: udh.map((b) => b.toString('hex')), sar, payload,
  });
  const answer = () => {
    let status = cfg.submit_status;
    if (n <= cfg.throttle_first) status = cfg.throttle_status;
    if (status) {
      session.send(pdu.response({ command_status: status }));
      out({ event: 'submit_resp', n, status });
      return;
    }
    const id = cfg.id_prefix + (nextId++).toString(16).padStart(8, '0');
    session.send(pdu.response({ message_id: id }));
    out({ event: 'submit_resp', n, status: 0, message_id: id });
    const concat = udh.find((b) => b[0] === 0x00 || b[0] === 0x08);
    if (payload !== null && !text) {
      out({ event: 'message', text: payload, parts: 1, how: 'payload' });
    } else if (concat) {
      const ref = concat[0] === 0x00 ? concat[2] : concat.readUInt16BE(2);
      const at = concat[0] === 0x00 ? 3 : 4;
      assemble('udh' + ref, concat[at], concat[at + 1], text, 'udh');
    } else if (sar) {
      assemble('sar' + sar[0], sar[1], sar[2], text, 'sar');
    } else {
      out({ event: 'message', text, parts: 1, how: 'single' });
    }
    if (cfg.receipt) {
      setTimeout(() => sendReceipt(session, id, cfg.receipt, cfg.receipt_stat), cfg.receipt_delay_ms);
    }
  };
  if (cfg.hold) held.push(answer);
  else if (cfg.delay_ms) setTimeout(answer, cfg.delay_ms);
  else answer();
}

const server = smpp.createServer({ debug: false }, (session) => {
  sessions.add(session);
  session.on('close', () => { sessions.delete(session); out({ event: 'close' }); });
  session.on('error', (e) => {
    process.stderr.write(`smsc: session error: ${e}\n`);
    out({ event: 'session_error', error: String(e) });
  });
  session.on('bind_transceiver', (pdu) => {
    out({ event: 'bind', system_id: pdu.system_id, system_type: pdu.system_type,
      interface_version: pdu.interface_version });
    if (cfg.bind_silent) return;
    if (pdu.system_id !== cfg.system_id || pdu.password !== cfg.password) {
      session.send(pdu.response({ command_status: cfg.refuse_status }));
      out({ event: 'bind_refused' });
      return;
    }
    session.send(pdu.response({ system_id: 'smsc' }));
    out({ event: 'bound' });
  });
  session.on('enquire_link', (pdu) => { session.send(pdu.response()); out({ event: 'enquire_link' }); });
  session.on('unbind', (pdu) => { out({ event: 'unbind' }); session.send(pdu.response()); session.close(); });
  session.on('unbind_resp', () => out({ event: 'unbind_resp' }));
  session.on('deliver_sm_resp', (pdu) => out({ event: 'deliver_sm_resp', status: pdu.command_status }));
  session.on('generic_nack', (pdu) => out({ event: 'generic_nack_received', status: pdu.command_status }));
  session.on('submit_sm', (pdu) => onSubmit(session, pdu));
});

server.listen(port, '127.0.0.1', () => out({ event: 'listening', port }));

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return;
  const c = JSON.parse(line);
  const all = [...sessions];
  switch (c.cmd) {
    case 'set': Object.assign(cfg, c); delete cfg.cmd; break;
    case 'drop': all.forEach((s) => s.socket.destroy()); break;
    case 'unbind': all.forEach((s) => s.unbind()); break;
    case 'garbage': {
      // A header whose command_length (12) is shorter than the header itself (16
      // octets): no SMPP peer can read on after it.
      const b = Buffer.from([0, 0, 0, 12, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 9]);
      all.forEach((s) => s.socket.write(b));
      break;
    }
    case 'generic_nack': all.forEach((s) => s.send(new smpp.PDU('generic_nack', { command_status: 0x08 }))); break;
    case 'receipt': all.slice(0, 1).forEach((s) => sendReceipt(s, c.id, c.form || 'text', c.stat || 'DELIVRD')); break;
    case 'mo':
      all.slice(0, 1).forEach((s) => s.deliver_sm({ source_addr: '447700900001', destination_addr: 'Acme', short_message: 'STOP' }));
      break;
    case 'release': held.splice(0).forEach((a) => a()); break;
    default: out({ event: 'unknown_command', cmd: c.cmd });
  }
  out({ event: 'done', cmd: c.cmd });
});
process.stdin.on('end', () => process.exit(0));
