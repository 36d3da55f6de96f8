"""Which ranking library and which Chinese tokenization the robot uses (docs/ai.md):
top-1 accuracy and query latency of bm25s and tantivy, with jieba words or character
bigrams, on the labelled knowledge base of bench/ai_kb (both languages and the canned
replies in one index, as a tenant's robot holds them). tantivy is only needed here:

    pip install tantivy && python bench/ai_retrieval.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ai_corpus import articles, knowledge, questions
from bots.ai.knowledge import parse_knowledge
from bots.ai.retrieval import TITLE_WEIGHT, Index
from bots.ai.text import tokens


def tantivy_search(docs, mode):  # type: ignore[no-untyped-def]
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("text", stored=False, tokenizer_name="whitespace")
    builder.add_integer_field("n", stored=True)
    schema = builder.build()
    index = tantivy.Index(schema)
    writer = index.writer(15_000_000, 1)
    for n, doc in enumerate(docs):
        words = tokens(doc.title, mode) * TITLE_WEIGHT + tokens(doc.body, mode)
        writer.add_document(tantivy.Document(text=" ".join(words), n=n))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    searcher = index.searcher()

    def search(question: str) -> str | None:
        words = [w for w in tokens(question, mode) if '"' not in w]
        if not words:
            return None
        query = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "text", w)) for w in words]
        )
        hits = searcher.search(query, 1).hits
        if not hits:
            return None
        return docs[searcher.doc(hits[0][1])["n"][0]].id

    return search


def bm25s_search(docs, mode):  # type: ignore[no-untyped-def]
    index = Index(docs, mode)

    def search(question: str) -> str | None:
        hits = index.search(question, 1)
        return hits[0].doc.id if hits else None

    return search


def main() -> None:
    docs = parse_knowledge(knowledge()).docs
    print(f"{len(docs)} documents; 40 questions per language")
    print(
        f"{'library':8} {'cjk':6} {'top1 en':>8} {'top1 zh':>8} {'build ms':>9} "
        f"{'p50 us':>7} {'p99 us':>7}"
    )
    for library, make in (("bm25s", bm25s_search), ("tantivy", tantivy_search)):
        for mode in ("jieba", "bigram"):
            tokens("预热", mode)  # jieba's dictionary loads once per process
            started = time.perf_counter()
            search = make(docs, mode)
            build_ms = (time.perf_counter() - started) * 1000
            right = {}
            times = []
            for lang in ("en", "zh"):
                ok = 0
                for question, want in questions(lang):
                    t0 = time.perf_counter()
                    for _ in range(20):
                        got = search(question)
                    times.append((time.perf_counter() - t0) / 20 * 1e6)
                    ok += got == want
                right[lang] = ok / len(questions(lang))
            cuts = statistics.quantiles(times, n=100)
            print(
                f"{library:8} {mode:6} {right['en']:8.0%} {right['zh']:8.0%} "
                f"{build_ms:9.1f} {cuts[49]:7.0f} {cuts[98]:7.0f}"
            )
    threshold_table(docs)
    traditional()


def traditional() -> None:
    """zh-Hant: 10 more articles in Traditional Chinese beside the 85, 10 questions."""
    with_hant = knowledge()
    with_hant["articles"] = [*with_hant["articles"], *articles("zh_hant")]  # type: ignore[misc]
    docs = parse_knowledge(with_hant).docs
    print("\nzh-Hant (10 questions): top-1; answered / right at 0.30")
    for mode in ("jieba", "bigram"):
        index = Index(docs, mode)
        hits = [(index.search(q, 1), w) for q, w in questions("zh_hant")]
        top1 = sum(bool(h) and h[0].doc.id == w for h, w in hits)
        answered = [(h, w) for h, w in hits if h and h[0].confidence >= 0.3]
        right = sum(h[0].doc.id == w for h, w in answered)
        print(f"  {mode:6} {top1}/10; {len(answered)} / {right}")


# Questions no article answers: the robot should offer a person, not guess.
OFF_TOPIC = [
    "what is the weather on mars",
    "tell me a joke",
    "who won the football game yesterday",
    "my cat is sick",
    "今天天气怎么样",
    "给我讲个笑话",
    "昨天谁赢了足球比赛",
    "我的猫生病了",
]


def threshold_table(docs) -> None:  # type: ignore[no-untyped-def]
    """What the confidence threshold trades: questions answered, answered right, and
    off-topic questions answered anyway (bm25s, both tokenizations)."""
    print("\nthreshold: answered / right of 80 labelled; off-topic answered of 8")
    for mode in ("jieba", "bigram"):
        index = Index(docs, mode)
        labelled = [(index.search(q, 1), w) for lang in ("en", "zh") for q, w in questions(lang)]
        off = [index.search(q, 1) for q in OFF_TOPIC]
        for threshold in (0.2, 0.25, 0.3, 0.35):
            answered = [(h, w) for h, w in labelled if h and h[0].confidence >= threshold]
            right = sum(h[0].doc.id == w for h, w in answered)
            wrong_off = sum(1 for h in off if h and h[0].confidence >= threshold)
            print(f"  {mode:6} {threshold:.2f}: {len(answered)} / {right}; {wrong_off}")


if __name__ == "__main__":
    main()
