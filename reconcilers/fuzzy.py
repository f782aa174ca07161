"""Fuzzy name candidates without comparing every payer with every organization.

Blocking by one-letter deletions (the SymSpell idea): a word and every copy of it with one letter
deleted are its keys, so two words one slip apart (a letter dropped, added, replaced, or two
swapped: PLIRBAS / PLIBRAS share PLIBAS) share a key. Consonant skeletons (vowels dropped after
the first letter) catch another transliteration's vowels. Words count as written and folded
(KH/H, Y/I, ...): folding merges transliterations but can magnify a swap (BURTSHYN folds to
BURCIN, far from BURSTIN), so the better of the two similarities counts.

Organization names are many and payer names needing this are few, so the organization side is
computed with vectorised string operations and immediately reduced to the keys some payer has.
A word in more than `name_block_max_orgs` organization names ("GRUP", "PLUS"), or a key reaching
more names than that, blocks nothing. Only candidate pairs are scored, each distinct pair once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reconcilers.names import name_similarity, similarity_many, skeleton

MIN_WORD = 4  # shorter words are compared only as part of whole names


def _keys(word: str) -> set[str]:
    keys = {word, "~" + skeleton(word)}
    if len(word) > MIN_WORD:
        keys.update(word[:i] + word[i + 1:] for i in range(len(word)))
    return keys


def _organization_keys(words: np.ndarray, wanted: pa.Array) -> pd.DataFrame:
    """(key, word) for organization words, only keys in `wanted`; arrow string kernels, no loop
    over the words (a hundred thousand organizations have a few hundred thousand words)."""
    text = pa.array(words, type=pa.string())
    length = pc.utf8_length(text).to_numpy(zero_copy_only=False)
    rest = pc.utf8_slice_codeunits(text, 1)
    parts = [(text, np.arange(len(words))),
             (pc.binary_join_element_wise("~", pc.utf8_slice_codeunits(text, 0, 1),
                                          pc.replace_substring_regex(rest, "[AEIOU]+", ""), ""), np.arange(len(words)))]
    for i in range(int(length.max()) if len(length) else 0):
        rows = np.flatnonzero((length > MIN_WORD) & (length > i))
        these = text.take(pa.array(rows))
        deleted = pc.binary_join_element_wise(pc.utf8_slice_codeunits(these, 0, i), pc.utf8_slice_codeunits(these, i + 1), "")
        parts.append((deleted, rows))
    keys, rows = [], []
    for key, row in parts:
        keep = pc.is_in(key, value_set=wanted).to_numpy(zero_copy_only=False)
        keys.append(np.asarray(key.filter(pa.array(keep)).to_numpy(zero_copy_only=False), dtype=object))
        rows.append(row[keep])
    frame = pd.DataFrame({"key": pd.Series(np.concatenate(keys), dtype=object),
                          "word": pd.Series(words[np.concatenate(rows)], dtype=object)})
    return frame.drop_duplicates()


def fuzzy_name_candidates(payers: pd.DataFrame, names: pd.DataFrame, threshold: int, max_orgs: int) -> pd.DataFrame:
    """(payer, org, similarity) for each payer (row of `payers`: key, flat) and each organization
    whose name is at least `threshold` thousandths similar; the best of its names counts."""
    empty = pd.DataFrame({"payer": pd.Series(dtype=np.int64), "org": pd.Series(dtype=np.int64),
                          "similarity": pd.Series(dtype=np.int64)})
    payer_key_of = payers["key"].to_numpy(dtype=object)
    payer_flat_of = payers["flat"].to_numpy(dtype=object)
    if len(payers) == 0 or names.empty:
        return empty
    payer_rows = []  # (payer, block key)
    for payer, (payer_key, folded) in enumerate(zip(payer_key_of, payer_flat_of)):
        payer_rows.append((payer, "=" + folded))
        for word in set(folded.split()) | set(payer_key.split()):
            if len(word) >= MIN_WORD:
                payer_rows.extend((payer, key) for key in _keys(word))
    payer_blocks = pd.DataFrame({"payer": np.array([p for p, _ in payer_rows], dtype=np.int64),
                                 "key": pd.Series([k for _, k in payer_rows], dtype=object)})
    wanted = pa.array(pd.unique(payer_blocks["key"].to_numpy(dtype=object)), type=pa.string())

    folded_names = names["folded"].to_numpy(dtype=object)
    raw_names = names["key"].to_numpy(dtype=object)
    org_of_name = names["org"].to_numpy()
    all_names = np.r_[folded_names, raw_names]
    split = [n.split() for n in all_names]
    words = pd.DataFrame({"position": np.repeat(np.r_[np.arange(len(names)), np.arange(len(names))], [len(w) for w in split]),
                          "word": pd.Series([w for ws in split for w in ws], dtype=object)}).drop_duplicates()
    words["org"] = org_of_name[words["position"].to_numpy()]
    spread = words.groupby("word")["org"].nunique()
    words = words[(words["word"].map(spread).to_numpy() <= max_orgs) & (words["word"].str.len() >= MIN_WORD).to_numpy()]
    keys = _organization_keys(pd.unique(words["word"].to_numpy(dtype=object)), wanted)
    reach = keys.merge(words[["word", "position"]], on="word")[["key", "position"]].drop_duplicates()
    per_key = reach.groupby("key")["position"].transform("size").to_numpy()
    reach = reach[per_key <= max_orgs]
    whole = pd.DataFrame({"key": pd.Series(["=" + f for f in folded_names], dtype=object), "position": np.arange(len(names))})
    whole = whole[pc.is_in(pa.array(whole["key"].to_numpy(dtype=object), type=pa.string()), value_set=wanted).to_numpy(zero_copy_only=False)]
    pairs = payer_blocks.merge(pd.concat([reach, whole], ignore_index=True), on="key")[["payer", "position"]]
    pairs = pairs.drop_duplicates().sort_values(["payer", "position"], kind="stable")
    if pairs.empty:
        return empty
    payer_of_pair = pairs["payer"].to_numpy()
    keys_of_pair = payer_key_of[payer_of_pair]
    positions = pairs["position"].to_numpy()
    folded_of_pair = payer_flat_of[payer_of_pair].tolist()
    # whole-name similarity for every candidate at once; the word-by-word check, which can only
    # lower it, runs in Python on the few that pass
    whole = np.maximum(similarity_many(folded_of_pair, folded_names[positions].tolist()),
                       similarity_many(list(keys_of_pair), raw_names[positions].tolist()))
    near = np.flatnonzero(whole >= threshold)
    keys_of_pair, positions, payer_of_pair = keys_of_pair[near], positions[near], payer_of_pair[near]
    # word by word: one word each is the whole-name score; different word counts never match
    words_payer = np.array([k.count(" ") for k in keys_of_pair], dtype=np.int64)
    words_org = np.array([raw_names[p].count(" ") for p in positions], dtype=np.int64)
    scores = np.where(words_payer == words_org, whole[near], 0)
    for j in np.flatnonzero((words_payer == words_org) & (words_payer > 0)):
        i, k, p = near[j], keys_of_pair[j], positions[j]
        scores[j] = max(name_similarity(folded_of_pair[i], folded_names[p], threshold), name_similarity(k, raw_names[p], threshold))
    found = pd.DataFrame({"payer": payer_of_pair, "org": org_of_name[positions].astype(np.int64), "similarity": scores})
    found = found[found["similarity"] >= threshold]
    best = found.groupby(["payer", "org"], as_index=False, sort=True)["similarity"].max()
    return best.reset_index(drop=True)
