// A feed consumer written without Python: Node's built-in fetch, no npm package.
//
//   FEED_URL=http://127.0.0.1:8720 FEED_TOKEN=... node http_consumer.mjs UNTIL [PAGE] [WAIT]
//
// Reads the HTTP feed (`accord feed-server`) from after=0 page by page to the end, prints
// "C <position>" once caught up, then follows it with long polls until it has UNTIL events
// in all. Each event is printed as "E <the NDJSON line as received>". The checkpoint it
// resumes after is the header Accord-Last-Position, which must equal the last line's
// position. Exit 0 done, 3 refused (prints "R <status> <body>"), 4 a long poll timed out
// with nothing new three times running, 5 a protocol mistake by the server.
const base = process.env.FEED_URL;
const token = process.env.FEED_TOKEN;
const until = Number(process.argv[2]);
const page = Number(process.argv[3] ?? 3);
const wait = Number(process.argv[4] ?? 10);

async function read(after, waitSeconds) {
  const url = `${base}/events?after=${after}&limit=${page}` + (waitSeconds ? `&wait=${waitSeconds}` : "");
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const response = await fetch(url, { headers });
  const body = await response.text();
  if (response.status !== 200) {
    console.log(`R ${response.status} ${body.trim()}`);
    process.exit(3);
  }
  if (!response.headers.get("content-type").startsWith("application/x-ndjson")) {
    console.log("X content-type");
    process.exit(5);
  }
  const lines = body.split("\n").filter((line) => line !== "");
  const last = Number(response.headers.get("accord-last-position"));
  const expected = lines.length ? JSON.parse(lines[lines.length - 1]).position : after;
  if (last !== expected) {
    console.log(`X Accord-Last-Position ${last}, expected ${expected}`);
    process.exit(5);
  }
  return { lines, last };
}

let after = 0;
let seen = 0;
for (;;) {
  const { lines, last } = await read(after, 0);
  if (!lines.length) break;
  for (const line of lines) console.log(`E ${line}`);
  seen += lines.length;
  after = last;
}
console.log(`C ${after}`);

let idle = 0;
while (seen < until) {
  const { lines, last } = await read(after, wait);
  if (!lines.length) {
    idle += 1;
    if (idle >= 3) {
      console.log(`T ${after}`);
      process.exit(4);
    }
    continue;
  }
  idle = 0;
  for (const line of lines) console.log(`E ${line}`);
  seen += lines.length;
  after = last;
}
process.exit(0);
