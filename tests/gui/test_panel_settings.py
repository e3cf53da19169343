"""The Evaluate panels' settings are the Session's: a change is stored, a stored value is shown."""

from __future__ import annotations


def test_sample_quality_settings_go_to_the_session_and_back(make_window):
    w = make_window()
    s = w.session
    panel = w.judging.show("SampleQualityDock")
    panel.n_spin.setValue(3000)
    panel.split_combo.setCurrentIndex(panel.split_combo.findData("train"))
    panel.seed_spin.setValue(5)
    assert s.settings["sample_quality"] == {"extractor": "classifier", "n_samples": 3000, "real_split": "train",
                                            "seed": 5, "trials": 100}
    assert s.dirty
    s.update_settings("sample_quality", n_samples=777, real_split="test", trials=20)
    assert (panel.n_spin.value(), panel.split_combo.currentData(), panel.trials_spin.value()) == (777, "test", 20)


def test_a_panel_built_after_a_restore_shows_the_restored_settings(make_window):
    w = make_window()
    s = w.session
    s.settings["likelihood"] = {"estimator": "kde", "iwae_k": [1, 5000], "n_images": 42, "seed": 9, "sigma": 0.2}
    s.settings["disentanglement"] = {"settings": "reference", "n_train": 4000, "seed": 3}
    s.mark_dirty(False)
    lik = w.judging.show("LikelihoodDock")
    assert (lik.estimator.currentData(), lik.k_edit.text(), lik.n_images.value(), lik.seed.value()) == \
        ("kde", "1, 5000", 42, 9)
    assert abs(lik.sigma.value() - 0.2) < 1e-9 and lik.sigma.isEnabled() and not lik.k_edit.isEnabled()
    dis = w.judging.show("DisentanglementDock")
    assert (dis.settings_combo.currentData(), dis.n_spin.value(), dis.seed_spin.value()) == ("reference", 4000, 3)
    assert not s.dirty  # showing what is stored stores nothing
    lik.steps.setValue(250)
    assert s.settings["likelihood"]["ais_steps"] == 250 and s.settings["likelihood"]["iwae_k"] == [1, 5000]
    assert s.dirty


def test_unusable_iwae_k_text_keeps_the_stored_k(make_window):
    w = make_window()
    lik = w.judging.show("LikelihoodDock")
    lik.k_edit.setText("1, 10, 1000")
    lik.k_edit.editingFinished.emit()
    assert w.session.settings["likelihood"]["iwae_k"] == [1, 10, 1000]
    lik.k_edit.setText("1, ten")
    lik.k_edit.editingFinished.emit()
    assert w.session.settings["likelihood"]["iwae_k"] == [1, 10, 1000]


def test_the_cores_sentences_name_the_panels_controls_not_command_line_options():
    from explorer.gui.panel_settings import LIKELIHOOD_WORDS, SAMPLE_QUALITY_WORDS, in_panel_words

    assert in_panel_words("--data 'x.npz' has no train split; choose another --real-split or a dataset with train "
                          "and test splits.", SAMPLE_QUALITY_WORDS) == \
        "the dataset 'x.npz' has no train split; choose the other real set or a dataset with train and test splits."
    assert in_panel_words("feature extractor 'f.pt' does not exist; give --extractor classifier, a classifier "
                          "checkpoint", SAMPLE_QUALITY_WORDS) == \
        "feature extractor 'f.pt' does not exist; choose the bundled classifier, a classifier checkpoint"
    assert in_panel_words("all 9 images of the dataset are measured; give --sigma or a smaller --n-images.",
                          LIKELIHOOD_WORDS) == "all 9 images of the dataset are measured; set σ or a smaller N images."
    assert "--" not in in_panel_words("use AIS (--estimator ais), which needs only the generator; --binarize "
                                      "applies to IWAE", LIKELIHOOD_WORDS)


def test_widget_values_a_session_file_would_refuse_are_not_stored(make_window):
    from explorer.core.sample_quality.jobs import MAX_SAMPLES

    w = make_window()
    sq = w.judging.show("SampleQualityDock")
    assert sq.n_spin.maximum() == MAX_SAMPLES
    lik = w.judging.show("LikelihoodDock")
    lik.k_edit.setText("1, 100")
    lik.k_edit.editingFinished.emit()
    lik.k_edit.setText("1, 5000000")
    lik.k_edit.editingFinished.emit()
    assert w.session.settings["likelihood"]["iwae_k"] == [1, 100]
