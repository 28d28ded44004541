"""Overlays colour a tracked person by its track id (the same colour in every frame)."""

from __future__ import annotations

from partparse.data.tps_format import submission_from_json, submission_to_json
from partparse.structures import PersonPrediction
from partparse.viz.overlay import PERSON_COLOURS, person_colour


def test_a_track_keeps_its_colour_whatever_its_rank():
    person = PersonPrediction((0, 0, 9, 9), track_id=3)
    assert person_colour(person, 0) == person_colour(person, 5) == PERSON_COLOURS[2]
    assert person_colour(PersonPrediction((0, 0, 9, 9)), 1) == PERSON_COLOURS[1]      # untracked: by rank
    assert person_colour(PersonPrediction((0, 0, 9, 9), track_id=len(PERSON_COLOURS) + 1), 4) == PERSON_COLOURS[0]


def test_track_ids_are_read_back_from_per_video_json_but_stay_out_of_submissions():
    part = {"v": {"img_00001.json": {"humans": [{"box": [0, 0, 9, 9], "parts": {}, "track_id": 4},
                                               {"box": [1, 1, 5, 5], "parts": {}, "track_id": True}]}}}
    video = submission_from_json({"v": "a"}, part)["v"]
    assert [p.track_id for p in video.frames[0].persons] == [4, None]               # a bool is no id
    _, written = submission_to_json([video])
    assert "track_id" not in str(written)
