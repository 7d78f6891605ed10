"""The int8 encoder and the int8 ONNX heads, on the real onnxruntime and model files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from nlp.base import NlpDoc
from nlp.encoder import DIM, POLICING_DIM, Encoder, EncoderComponent, normalise_for_model
from nlp.heads import MODELS_DIR, AbuseHead, SentimentHead, load_head
from nlp.pipeline import Pipeline, PipelineError
from tests.indexer.helpers import make_post


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder(threads=2)


def test_embeddings_are_unit_vectors_in_input_order(encoder: Encoder) -> None:
    texts = ["a much longer sentence about a burglary on Oxford Road last night", "hi", ""]
    vectors = encoder.encode(texts)
    assert vectors.shape == (3, DIM)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Batching sorts by length; the order must come back as given.
    alone = encoder.encode([texts[1]])
    assert np.allclose(vectors[1], alone[0], atol=1e-4)
    assert encoder.encode([]).shape == (0, DIM)


def test_the_policing_view_is_layer_4_beside_the_sentence_view(encoder: Encoder) -> None:
    texts = ["two men seen forcing a door on Hyde Park Road", "what a match", "ok"]
    sentence, policing = encoder.encode_views(texts)
    assert policing.shape == (3, POLICING_DIM) and policing.dtype == np.float32
    assert np.array_equal(policing[:, DIM:], sentence)  # the last layer, as given to the heads
    middle = policing[:, :DIM]
    assert np.allclose(np.linalg.norm(middle, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(middle, sentence, atol=0.05)  # a different layer, not a copy
    # Each text's vectors are the same whatever it is batched with (float32 arithmetic).
    for i, text in enumerate(texts):
        s_alone, p_alone = encoder.encode_views([text])
        assert np.allclose(s_alone[0], sentence[i], atol=1e-5)
        assert np.allclose(p_alone[0], policing[i], atol=1e-5)
    empty = encoder.encode_views([])
    assert empty[0].shape == (0, DIM) and empty[1].shape == (0, POLICING_DIM)


def test_similar_sentences_are_closer_than_unrelated_ones(encoder: Encoder) -> None:
    a, b, c = encoder.encode(
        [
            "A man was stabbed outside the pub last night",
            "Someone got knifed near the bar yesterday evening",
            "The bakery has a new sourdough recipe",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.2


def test_handles_and_links_are_normalised_like_the_training_data() -> None:
    text = "@GMPolice see https://t.co/abc and email a@b.com"
    assert normalise_for_model(text) == "@user see http and email a@b.com"


def test_emoji_become_their_names_once_per_run() -> None:
    text = "Loved it \U0001f602\U0001f602\U0001f602 \u2764\ufe0f \U0001f44d\U0001f3fc"
    assert normalise_for_model(text) == "Loved it face with tears of joy red heart thumbs up"
    # A zero-width-joined sequence is one emoji, named once.
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert normalise_for_model(family) == "family man woman girl"


def test_entities_typography_and_invisible_characters_are_normalised() -> None:
    text = "Fish &amp; chips \u2013 don\u2019t \u201cqueue\u201d\u2026 a&lt;b&gt;"
    assert normalise_for_model(text) == 'Fish & chips - don\'t "queue"... a<b>'
    hidden = "sto\u200bbbed \u202eevil\u202c \ufeffsoft\u00adhyphen"
    assert normalise_for_model(hidden) == "stobbed evil softhyphen"
    # Version 1 (the encoder's first two training stages) only replaced handles and links.
    assert normalise_for_model("@bob &amp; \U0001f602", version=1) == "@user &amp; \U0001f602"


def test_camelcase_hashtags_are_spelled_out_for_the_encoder() -> None:
    text = "#FreeGaza now #NotMyPresident #bbc #NHS #iPhone7 mail#NotATag ##DoubleHash"
    assert normalise_for_model(text) == (
        "#Free Gaza now #Not My President #bbc #NHS #iPhone7 mail#NotATag ##DoubleHash"
    )
    # Version 2 (the encoder's fourth stage) left them joined.
    assert normalise_for_model("#FreeGaza", version=2) == "#FreeGaza"


def test_spelled_out_hashtags_read_like_the_words(encoder: Encoder) -> None:
    joined, spelled, words = encoder.encode(
        ["#ThankYouPolice", normalise_for_model("#ThankYouPolice"), "thank you police"]
    )
    # encode() normalises, so the joined and spelled-out forms are one text now.
    assert float(joined @ spelled) > 0.999
    assert float(joined @ words) > 0.8


def test_emoji_reach_the_encoder_as_meaning_not_unknown_tokens(encoder: Encoder) -> None:
    # Before normalisation 2 every emoji was the tokenizer's [UNK], so these two were one text.
    happy, angry = encoder.encode(["the result \U0001f60d", "the result \U0001f621"])
    assert float(happy @ angry) < 0.99


def test_heads_give_probabilities() -> None:
    x = np.random.default_rng(0).normal(size=(5, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    for name, n_labels in (("sentiment", 3), ("offensive", 2), ("hate", 2)):
        head = load_head(name)
        probs = head.predict_proba(x)
        assert probs.shape == (5, n_labels)
        assert np.all((probs >= 0) & (probs <= 1))
        assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
        assert head.version.startswith(f"{name}:")
        card = json.loads((MODELS_DIR / f"{name}.json").read_text("utf-8"))
        assert card["version"] == head.version  # the card describes these weights
        assert card["training_files"] and card["tuning_files"] and card["test_files"]
    assert set(load_head("sentiment").labels) == {"negative", "neutral", "positive"}
    with pytest.raises(ValueError, match="expected"):
        load_head("sentiment").predict_proba(x[:, :10])


def test_the_pipeline_writes_sentiment_abuse_and_versions() -> None:
    positive = [
        "I love this so much, best day ever! Thank you all!",
        "Congratulations to the team, absolutely brilliant result, so proud",
        "What a beautiful sunny morning, feeling happy and grateful",
    ]
    negative = [
        "This is the worst service I have ever had, absolutely disgusting",
        "I hate Mondays, everything went wrong and I'm so angry",
        "Terrible news, my car was stolen last night. Devastated.",
    ]
    posts = [make_post(i, text=t) for i, t in enumerate(positive + negative)]
    pipeline = Pipeline([EncoderComponent(), SentimentHead(), AbuseHead()])
    pipeline.enrich(posts)
    labels = [p.enrichment.sentiment.label for p in posts if p.enrichment.sentiment]
    assert labels == ["positive"] * 3 + ["negative"] * 3
    for post in posts:
        assert post.enrichment.abuse is not None
        assert 0 <= (post.enrichment.abuse.offensive or 0) <= 1
        assert 0 <= (post.enrichment.abuse.hate or 0) <= 1
        assert post.enrichment.models == {
            "encoder": EncoderComponent.version,
            "sentiment": SentimentHead.version,
            "abuse": AbuseHead.version,
        }
    assert SentimentHead.version.startswith("sentiment:")
    assert "offensive:" in AbuseHead.version and "hate:" in AbuseHead.version


def test_abuse_scores_rank_an_insult_above_a_neutral_post() -> None:
    posts = [
        make_post(1, text="The council meeting is on Tuesday at 7pm in the town hall"),
        make_post(2, text="@user you are a fucking idiot, shut your stupid mouth"),
    ]
    Pipeline([EncoderComponent(), AbuseHead()]).enrich(posts)
    calm, insult = (p.enrichment.abuse for p in posts)
    assert calm is not None and insult is not None
    assert (insult.offensive or 0) > (calm.offensive or 0) + 0.3


def test_english_only_heads_leave_other_languages_unscored() -> None:
    text = "Terrible news, my car was stolen last night. Devastated."
    posts = [
        make_post(1, text=text, language="en-GB"),
        make_post(2, text=text),  # language unknown: scored
        make_post(3, text=text, language="cy"),
        make_post(4, text=text, language="pl"),
        make_post(5, text=text, language="eng"),  # ISO 639-3, as some exports write it
        make_post(6, text=text, language="cym"),
    ]
    Pipeline([EncoderComponent(), SentimentHead(), AbuseHead()]).enrich(posts)
    scored = [p.enrichment.sentiment is not None for p in posts]
    assert scored == [True, True, False, False, True, False]
    assert [p.enrichment.abuse is not None for p in posts] == scored
    # The heads looked at every post: their version says which rule left it empty.
    assert all(p.enrichment.models["sentiment"] == SentimentHead.version for p in posts)
    assert SentimentHead.version.endswith("+en") and AbuseHead.version.endswith("+en")


def test_a_welsh_post_gets_no_english_sentiment_in_the_full_pipeline() -> None:
    from nlp.language import LanguageComponent

    posts = [
        make_post(1, text="Mae'r heddlu yng Nghaerdydd heno ar ôl y digwyddiad, diolch i bawb"),
        make_post(2, text="The police are in Cardiff tonight after the incident, thanks all"),
    ]
    Pipeline([LanguageComponent(), EncoderComponent(), SentimentHead()]).enrich(posts)
    assert [p.language for p in posts] == ["cy", "en"]
    assert posts[0].enrichment.sentiment is None
    assert posts[1].enrichment.sentiment is not None


def test_heads_need_the_encoder_first() -> None:
    with pytest.raises(PipelineError, match=r"features\.embedding"):
        Pipeline([SentimentHead(), EncoderComponent()])


def test_triage_skipped_posts_get_no_embedding_or_scores() -> None:
    class SkipAll:
        name: ClassVar[str] = "skipall"
        version: ClassVar[str] = "1"
        reads: ClassVar[tuple[str, ...]] = ("text",)
        writes: ClassVar[tuple[str, ...]] = ()
        costly: ClassVar[bool] = False

        def __call__(self, docs: list[NlpDoc]) -> None:
            for doc in docs:
                doc.skip_costly = True

    post = make_post(1, text="nothing to see")
    Pipeline([SkipAll(), EncoderComponent(), SentimentHead()]).enrich([post])
    assert post.enrichment.sentiment is None
    assert post.enrichment.models == {"skipall": "1"}


def test_sentiment_head_beats_chance_on_validation_tweets(encoder: Encoder) -> None:
    try:
        from nlp.training import data

        texts, y = data.load_tweeteval("sentiment", "val")
    except FileNotFoundError as exc:
        pytest.fail(f"shared datasets missing (../shared/datasets): {exc}", pytrace=False)
    texts, y = texts[:100], y[:100]  # a smoke check, not the metric
    head = load_head("sentiment")
    pred = head.predict_proba(encoder.encode(texts)).argmax(axis=1)
    names = np.asarray(head.labels)[pred]
    truth = np.asarray(data.SENTIMENT_LABELS)[y]
    assert float(np.mean(names == truth)) > 0.5


def test_merged_mlps_average_the_members_logits() -> None:
    from nlp.training.train_heads import as_head, merge_mlps

    rng = np.random.default_rng(1)
    members = [
        {
            "W0": rng.normal(size=(DIM, 8)).astype(np.float32),
            "b0": rng.normal(size=8).astype(np.float32),
            "W1": rng.normal(size=(8, 3)).astype(np.float32),
            "b1": rng.normal(size=3).astype(np.float32),
        }
        for _ in range(3)
    ]
    labels = ("negative", "neutral", "positive")
    x = rng.normal(size=(4, DIM)).astype(np.float32)
    merged = as_head(merge_mlps(members), labels, None)
    expected = np.mean([as_head(m, labels, None).logits(x) for m in members], axis=0)
    assert merged.weights[0].shape == (DIM, 24)
    assert np.allclose(merged.logits(x), expected, atol=1e-4)


def test_semeval_escapes_are_decoded_and_duplicates_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nlp.training import data

    folder = tmp_path / "semeval2017_task4A"
    folder.mkdir()
    (folder / "a.txt").write_text(
        "1\tpositive\tI don\\u2019t mind\\u002c really\n"
        "2\tneutral\tFish &amp; chips\n"
        "3\tpositive\tI don't mind, really\n"  # the same tweet once decoded
        "4\tbogus\tnot a label\n",
        "utf-8",
    )
    monkeypatch.setenv("BLUELAMP_DATASETS", str(tmp_path))
    texts, labels = data.load_semeval(("a.txt",))
    assert texts == ["I don\u2019t mind, really", "Fish &amp; chips"]
    assert labels.tolist() == [2, 1]
    # As the encoder's first stages read them: escapes kept, so no duplicate found.
    old, _ = data.load_semeval(("a.txt",), normalisation=1)
    assert old == ["I don\\u2019t mind\\u002c really", "Fish &amp; chips", "I don't mind, really"]
    keep = data.decontaminate(texts, ["fish & chips"])
    assert keep.tolist() == [0]


@pytest.mark.parametrize(
    ("packed", "tweet"),
    [
        ('"Red Sox have the 3rd highest attendance"', "Red Sox have the 3rd highest attendance"),
        ('"Closed tomorrow...I don\\u2019t', "Closed tomorrow...I don\u2019t"),
        ('"It read: \\""Standing up\\"" since Sunday"', 'It read: "Standing up" since Sunday'),
        ('"\\""""@user: Cupid\\"""" wow"', '"@user: Cupid" wow'),
        # Quotes that are the tweet's own stay.
        ('"Papa you need a hat" thus said one', '"Papa you need a hat" thus said one'),
        ('"A" and "B"', '"A" and "B"'),
        ("plain tweet", "plain tweet"),
    ],
)
def test_semeval_csv_wrappers_are_removed(packed: str, tweet: str) -> None:
    from nlp.training.data import unpack_semeval

    assert unpack_semeval(packed) == tweet


def test_tweeteval_sentiment_is_read_like_semeval_from_normalisation_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nlp.training import data

    for task in ("sentiment", "hate"):
        folder = tmp_path / "tweeteval" / task
        folder.mkdir(parents=True)
        (folder / "val_text.txt").write_text('"Don\\u2019t go"\nfine\n', "utf-8")
        (folder / "val_labels.txt").write_text("0\n1\n", "utf-8")
    monkeypatch.setenv("BLUELAMP_DATASETS", str(tmp_path))
    texts, labels = data.load_tweeteval("sentiment", "val")
    assert texts == ["Don\u2019t go", "fine"]
    assert labels.tolist() == [0, 1]
    old, _ = data.load_tweeteval("sentiment", "val", normalisation=2)
    assert old == ['"Don\\u2019t go"', "fine"]
    # Other tasks are not SemEval's packaging and are read as written.
    hate, _ = data.load_tweeteval("hate", "val")
    assert hate == ['"Don\\u2019t go"', "fine"]


def test_recorded_encoder_stages_rerun_with_the_normalisation_they_ran_with() -> None:
    from nlp.training.finetune_encoder import RECIPE, _normalisation_recorded, _stage_command

    old_average = _normalisation_recorded(
        {"average_of": ["a.pt", "b.pt"], "command": "python -m m average a.pt b.pt --out s"}
    )
    assert (
        _stage_command(old_average)
        == "python -m m average a.pt b.pt --normalisation 1 --val all --out s"
    )
    old_train = _normalisation_recorded({"hyperparameters": {"out": "x", "init": "None"}})
    assert _stage_command(old_train).endswith("train --out x --normalisation 1 --val all")
    # Every step of the shipped recipe before the last normalisation names its own.
    for step in RECIPE[:-3]:
        assert "--normalisation" in step, step
    # The shipped stages selected on all of val; the recipe and the card's rebuild
    # command must say so, or they would select on the twin-free part (the default).
    for step in RECIPE[:-1]:
        assert step[step.index("--val") + 1] == "all", step
    card = json.loads((MODELS_DIR / "encoder.json").read_text("utf-8"))
    steps = card["command"].split(" && ")
    assert len(steps) == len(RECIPE)
    for command in steps[:-1]:
        assert command.split()[3] in ("train", "average"), command
        assert "--val all" in command, command


def test_near_duplicates_catch_a_tweet_reposted_with_a_link_or_handle() -> None:
    from nlp.training.data import near_duplicates

    training = [
        "Dark Souls 3 April launch date confirmed with new trailer: embrace the darkness.",
        "@normanisnachos I may or may not have searched it up on google",
        "Happy birthday to my favourite person in the whole world",
    ]
    held_out = [
        "Dark Souls 3 April Launch Date Confirmed With New Trailer: Embrace the darkness. "
        "https://t.co/V3rMmdpkPj",  # a link added, capitals changed
        "@user I may or may not have searched it up on google",  # the handle masked
        "I may not have searched for the darkness trailer on google",  # shares words only
        "Happy birthday to you",
    ]
    assert near_duplicates(held_out, training).tolist() == [True, True, False, False]
    assert near_duplicates(training, held_out).tolist() == [True, True, False]
    assert near_duplicates(held_out, []).tolist() == [False] * 4
    assert near_duplicates([], training).tolist() == []


def test_sentiment_val_leaves_out_tweets_whose_twin_trains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nlp.training import data

    semeval = tmp_path / "semeval2017_task4A"
    semeval.mkdir()
    rows = [
        ("positive", "What a brilliant night at the match with everyone http://t.co/x1"),
        ("negative", "The trains are late again and nobody tells us anything"),
        ("neutral", "Council meeting on the new bus lanes is on Thursday evening"),
    ]
    (semeval / "only.txt").write_text(
        "".join(f"{i}\t{label}\t{text}\n" for i, (label, text) in enumerate(rows)), "utf-8"
    )
    sentiment = tmp_path / "tweeteval" / "sentiment"
    sentiment.mkdir(parents=True)
    val = [
        "What a brilliant night at the match with everyone",  # a twin: the link dropped
        "Council meeting on the new bus lanes is on Thursday evening",  # exact: trains no more
        "Lovely weather for the parade today",
    ]
    (sentiment / "val_text.txt").write_text("\n".join(val) + "\n", "utf-8")
    (sentiment / "val_labels.txt").write_text("2\n1\n2\n", "utf-8")
    (sentiment / "test_text.txt").write_text(
        "The trains are late again and nobody tells us\n", "utf-8"
    )
    (sentiment / "test_labels.txt").write_text("0\n", "utf-8")
    monkeypatch.setenv("BLUELAMP_DATASETS", str(tmp_path))

    splits = data.sentiment_splits(files=("only.txt",))
    # The council tweet is in val word for word, and the trains tweet is a twin of a
    # test tweet: neither trains. The match tweet trains, so its val twin cannot tune.
    assert splits.texts == [rows[0][1]]
    assert splits.labels.tolist() == [2]
    assert splits.val_texts == val[1:]
    assert splits.val_labels.tolist() == [1, 2]
    assert splits.val_twins == 1
    assert splits.test_twins == 1
    everything = data.sentiment_splits(drop_val_twins=False, files=("only.txt",))
    assert everything.val_texts == val
    assert everything.val_twins == 1
