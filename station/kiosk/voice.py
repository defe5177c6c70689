"""Spoken guidance: every cue rendered once by espeak-ng into a WAV cache, clinic recordings first.

Theory of operation
-------------------
A session can be followed with the eyes closed: at each phase change the tone marks the moment
(:mod:`station.kiosk.audio`) and, half a second later, a calm slow voice says what to do
("Smile slowly, just a little."). The sentences are the patient's words
(:mod:`station.practice.words` and the pattern files); this module only turns them into sound.

* **Cues** are named ``<scope>_<phase>_<lang>``: ``small_smile_move_en``, ``session_settle_en``,
  ``session_break2_en``. :func:`plan_cues` lists every cue a plan can speak; ``station voice
  --out DIR`` writes them as ``<cue id>.wav`` so a clinic can listen to them.
* **Rendering** (espeak-ng, offline, a Debian package on Pi OS) happens once per sentence and
  voice setting into ``<data dir>/voice-cache/`` (file named by a hash of the text and the
  espeak settings), at start-up on a background thread, so a phase change only plays a file.
  Sentences with numbers (the results on the summary) are rendered when first needed.
* **Clinic recordings** (a therapist's own voice is what patients know) arrive on the clinic
  stick with the prescription and are copied, validated by :func:`check_recording`, into
  ``<data dir>/voice/<cue id>.wav``; a recording there replaces the rendered cue.
* **Silence is fine**: voice off in the settings, no espeak-ng, or no audio device, and the
  station guides with tones and the screen as before (one log line says which).

Playback uses one reserved ``pygame.mixer`` channel, so a new cue cuts the previous one short
(a short press that leaves an intro early also ends its speech) and the tones never do. Only
rendering runs on the worker thread; sound is played on the UI loop's thread (:meth:`Voice.say`
and :meth:`Voice.tick`), because the loop may close the mixer at any moment.
"""

from __future__ import annotations

import hashlib
import io
import logging
import queue
import shutil
import subprocess
import threading
import wave
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from station.clinic.recordings import MAX_RECORDING_BYTES, OVERRIDE_DIR, check_recording
from station.practice import words
from station.practice.events import REP_PHASES, Output, Paused, PhaseStarted, Resumed, State
from station.practice.plan import PHASES, Plan, release_prompts

log = logging.getLogger(__name__)

LANG = "en"
ESPEAK = "espeak-ng"
#: espeak-ng settings: British English, slow (words a minute), a little lower, gaps between words
ESPEAK_ARGS: tuple[str, ...] = ("-v", "en", "-s", "130", "-p", "40", "-g", "3")
LEAD_IN_S = 0.5  # after the tone, before the words
CACHE_DIR = "voice-cache"



@dataclass(frozen=True)
class Cue:
    """One thing the station can say."""

    scope: str  # a pattern id, or "session"
    phase: str  # intro, move, hold, release, rest | settle, break1.., paused, summary
    text: str
    lang: str = LANG

    @property
    def id(self) -> str:
        """``small_smile_move_en``: the file name stem of this cue and of its recording."""
        return f"{self.scope}_{self.phase}_{self.lang}"

    @property
    def filename(self) -> str:
        return f"{self.id}.wav"


# ---- which cues ---------------------------------------------------------------------------------


def session_cues(prompts: Iterable[str] | None = None) -> list[Cue]:
    """The cues every session can speak, whatever its plan."""
    cues = [Cue("session", "settle", words.SAY_SETTLE)]
    for n, prompt in enumerate(prompts if prompts is not None else release_prompts(), 1):
        cues.append(Cue("session", f"break{n}", words.SAY_BREAK.format(prompt=prompt)))
    cues += [Cue("session", "paused", words.SAY_PAUSED), Cue("session", "summary", words.SAY_SUMMARY),
             Cue("session", "turned", words.SAY_TURN_BACK)]
    return cues


def pattern_cues(plan: Plan) -> list[Cue]:
    """Each pattern's intro and phase sentences, once per pattern."""
    cues: list[Cue] = []
    seen: set[str] = set()
    for item in plan.items:
        p = item.pattern
        if p.id in seen:
            continue
        seen.add(p.id)
        cues.append(Cue(p.id, "intro", words.intro_text(p)))
        cues += [Cue(p.id, ph, p.text(ph)) for ph in PHASES]
    return cues


def plan_cues(plan: Plan, prompts: Iterable[str] | None = None) -> list[Cue]:
    """Every cue a session of ``plan`` can speak."""
    return session_cues(prompts) + pattern_cues(plan)


def cue_for(out: Output, plan: Plan, release_prompt: str = "") -> Cue | None:
    """The cue an engine output calls for (None: nothing to say; a resumed phase goes on, its
    screen and guide say where)."""
    match out:
        case Paused():
            return Cue("session", "paused", words.SAY_PAUSED)
        case PhaseStarted(phase=State.SETTLE):
            return Cue("session", "settle", words.SAY_SETTLE)
        case PhaseStarted(phase=State.BREAK):
            prompts = release_prompts()
            n = prompts.index(release_prompt) + 1 if release_prompt in prompts else 1
            return Cue("session", f"break{n}", words.SAY_BREAK.format(prompt=release_prompt or prompts[0]))
        case PhaseStarted(phase=State.SUMMARY):
            return Cue("session", "summary", words.SAY_SUMMARY)
        case PhaseStarted(phase=phase, pattern_index=int(i)) if 0 <= i < len(plan.items):
            p = plan.items[i].pattern
            if phase is State.INTRO:
                return Cue(p.id, "intro", words.intro_text(p))
            if phase in REP_PHASES:
                return Cue(p.id, phase.value, p.text(phase.value))
    return None


# ---- rendering ----------------------------------------------------------------------------------


NICE = shutil.which("nice")  # coreutils; without it the renderer runs at normal priority


def espeak_path() -> str | None:
    """Where espeak-ng is, or None when it is not installed."""
    return shutil.which(ESPEAK)


def render(text: str, dest: Path, espeak: str | None = None,
           run: Callable[..., Any] = subprocess.run) -> Path:
    """Render ``text`` with espeak-ng into the WAV ``dest`` (written whole, then renamed)."""
    exe = espeak or espeak_path()
    if exe is None:
        raise FileNotFoundError("espeak-ng is not installed")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    # niced: rendering at start-up must never take the CPU from the face tracking. ``nice`` is
    # the command (never a preexec_fn: that forces a fork that runs Python in the child, which
    # then holds copies of the kiosk's files, the session lock's included, until it execs).
    cmd = [exe, *ESPEAK_ARGS, "-w", str(tmp), "--", text]
    run([NICE, "-n", "19", *cmd] if NICE else cmd, check=True, capture_output=True, timeout=60)
    tmp.replace(dest)
    return dest


def cache_name(text: str) -> str:
    """The cache file for ``text`` with the current espeak settings."""
    key = "\x00".join([*ESPEAK_ARGS, text]).encode("utf-8")
    return hashlib.sha256(key).hexdigest()[:24] + ".wav"


# ---- the voice service ----------------------------------------------------------------------------


class Voice:
    """Speaks cues at phase changes. ``start(plan)`` once; ``follow(...)`` with engine outputs.

    ``player`` plays a WAV file (default: a reserved pygame.mixer channel); tests pass their own.
    ``background=False`` renders and plays on the caller's thread (deterministic, for tests).
    ``said`` lists the cue ids spoken, in order (also logged), so a session can be checked.
    """

    def __init__(self, data_dir: Path | None, enabled: bool = True, volume: float = 0.7,
                 espeak: str | None = "auto", player: Callable[[list[Path]], None] | None = None,
                 background: bool = True) -> None:
        self.data_dir = data_dir
        self.enabled = enabled and data_dir is not None
        self.volume = max(0.0, min(1.0, volume))
        self.espeak = espeak_path() if espeak == "auto" else espeak
        self.player = player
        self.background = background
        self.said: list[str] = []
        self._jobs: queue.Queue[tuple[int, list[Cue]] | None] = queue.Queue()
        self._done: queue.Queue[tuple[int, list[Path]]] = queue.Queue()
        self._generation = 0
        self._thread: threading.Thread | None = None
        self._channel: Any = None
        self._checked: dict[tuple[str, int, int], bool] = {}
        self._phase_cue: Cue | None = None  # the current phase's cue, said again on resume

    # -- files ---------------------------------------------------------------------------------

    def recording(self, cue: Cue) -> Path | None:
        """The clinic's recording of ``cue`` when there is a usable one (checked once per file)."""
        if self.data_dir is None:
            return None
        path = self.data_dir / OVERRIDE_DIR / cue.filename
        try:
            st = path.stat()
        except OSError:
            return None
        key = (str(path), st.st_mtime_ns, st.st_size)
        if key not in self._checked:
            problem = "too large" if st.st_size > MAX_RECORDING_BYTES else check_recording(path.read_bytes())
            if problem:
                log.warning("voice: recording %s not used: %s", path.name, problem)
            self._checked[key] = problem is None
        return path if self._checked[key] else None

    def wav(self, cue: Cue) -> Path | None:
        """The file to play for ``cue`` (rendering it if needed); None when there is none."""
        rec = self.recording(cue)
        if rec is not None:
            return rec
        if self.data_dir is None or self.espeak is None:
            return None
        path = self.data_dir / CACHE_DIR / cache_name(cue.text)
        if not path.is_file():
            render(cue.text, path, self.espeak)
        return path

    def prepare(self, cues: Iterable[Cue]) -> int:
        """Render every cue not yet in the cache; returns how many were rendered."""
        n = 0
        for cue in cues:
            if self.recording(cue) is None and self.espeak is not None and self.data_dir is not None:
                path = self.data_dir / CACHE_DIR / cache_name(cue.text)
                if not path.is_file():
                    render(cue.text, path, self.espeak)
                    n += 1
        return n

    # -- life cycle ----------------------------------------------------------------------------

    def start(self, plan: Plan) -> None:
        """Check what can speak, and render the plan's cues on a background thread."""
        if self.data_dir is None:  # no voice wired in (tests, tools)
            return
        if not self.enabled:
            log.info("voice: off in the settings (tones only)")
            return
        if self.espeak is None:
            log.warning("voice: espeak-ng is not installed; only clinic recordings are spoken "
                        "(install the espeak-ng package for spoken guidance)")
        if self.background:
            self._thread = threading.Thread(target=self._work, name="voice", daemon=True)
            self._thread.start()
        self.set_plan(plan)

    def set_plan(self, plan: Plan) -> None:
        """Render a new plan's cues ahead of its first session."""
        if self._thread is not None:
            self._jobs.put((-1, plan_cues(plan)))
        elif self.enabled:
            self.prepare(plan_cues(plan))

    def prepare_later(self, said: Iterable[tuple[str, str]]) -> None:
        """Render (name, sentence) hints ahead (the check-in's words), on the worker if there is one."""
        cues = [Cue("session", name, text) for name, text in said]
        if self._thread is not None:
            self._jobs.put((-1, cues))
        elif self.enabled:
            self.prepare(cues)

    def stop(self) -> None:
        """End the worker (never raises)."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout=2.0)
            self._thread = None

    # -- speaking ------------------------------------------------------------------------------

    def follow(self, outputs: Iterable[Output], plan: Plan, release_prompt: str = "",
               results: Iterable[str] = ()) -> None:
        """Speak what the latest output calls for (earlier ones in the same step are passed)."""
        cue = None
        for out in outputs:
            found = cue_for(out, plan, release_prompt)
            match out:
                case PhaseStarted() if found is not None:
                    self._phase_cue = found
                case Resumed():  # eyes closed: say again what the phase asks
                    found = self._phase_cue
            cue = found or cue
        if cue is None:
            return
        extra = [Cue("session", "results", r) for r in results if r] if cue.phase == "summary" else []
        self.say(cue, *extra)

    def hint(self, name: str, text: str) -> None:
        """Say a calm hint the tracking asks for (``session_<name>``, e.g. turn back)."""
        self.say(Cue("session", name, text))

    def say(self, *cues: Cue) -> None:
        """Speak ``cues`` one after the other, cutting short whatever is being said.

        Cached cues play at once; a cue still to be rendered is rendered on the worker thread
        and played by the next :meth:`tick`. Sound is only ever touched on the caller's (the
        UI loop's) thread: the mixer may be closed by the loop at any moment.
        """
        if not self.enabled or not cues:
            return
        self._generation += 1
        self.said += [c.id for c in cues]
        log.debug("voice: %s", " + ".join(f"{c.id} ({c.text!r})" for c in cues))
        ready = [self._ready_file(c) for c in cues]
        if all(f is not None for f in ready):
            self._play_files([f for f in ready if f is not None])
        elif self._thread is None:  # no worker (tests, tools): render here
            self._play_files(self._render_all(list(cues)))
        else:
            self._jobs.put((self._generation, list(cues)))

    def tick(self) -> None:
        """Play what the worker has rendered, if it is still the latest cue (call every frame)."""
        latest = None
        while not self._done.empty():
            latest = self._done.get_nowait()
        if latest is not None and latest[0] == self._generation:
            self._play_files(latest[1])

    def _ready_file(self, cue: Cue) -> Path | None:
        """The file for ``cue`` if it can play without rendering now."""
        rec = self.recording(cue)
        if rec is not None or self.data_dir is None:
            return rec
        path = self.data_dir / CACHE_DIR / cache_name(cue.text)
        return path if path.is_file() else None

    def _render_all(self, cues: list[Cue]) -> list[Path]:
        try:
            return [f for f in (self.wav(c) for c in cues) if f is not None]
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("voice: could not render %s: %s", cues[0].id, exc)
            return []

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            generation, cues = job
            try:
                if generation < 0:
                    n = self.prepare(cues)
                    log.info("voice: %d cue(s) ready (%d rendered now)", len(cues), n)
                elif generation == self._generation:
                    self._done.put((generation, self._render_all(cues)))
            except Exception:  # noqa: BLE001 - a voice problem never stops the guide
                log.exception("voice: rendering failed; the tones go on")

    def _play_files(self, files: list[Path]) -> None:
        if not files:
            return
        try:
            (self.player or self._play)(files)
        except Exception:  # noqa: BLE001 - a broken file or mixer never stops the guide
            log.warning("voice: playing %s failed", files[0].name, exc_info=True)

    def _play(self, files: list[Path]) -> None:
        """Play files as one sound on the reserved mixer channel (nothing without a mixer).

        The files are joined into one WAV in memory, after the lead-in, rather than queued on
        the channel: a queued sound crashes pygame-ce when the mixer is closed under it.
        """
        import pygame

        if not pygame.mixer.get_init():
            return
        pygame.mixer.set_reserved(1)  # again after any re-init: the tones never take channel 0
        self._channel = pygame.mixer.Channel(0)
        data = joined([f.read_bytes() for f in files], LEAD_IN_S)
        sound = pygame.mixer.Sound(file=io.BytesIO(data))
        sound.set_volume(self.volume)
        self._channel.play(sound)


def joined(wavs: list[bytes], lead_in_s: float = 0.0) -> bytes:
    """One WAV: ``lead_in_s`` of silence, then each WAV in turn with a short gap (a WAV in a
    different format from the first is left out, with a log line)."""
    out = io.BytesIO()
    params = None
    with wave.open(out, "wb") as dest:
        for n, data in enumerate(wavs):
            with wave.open(io.BytesIO(data)) as w:
                p = w.getparams()
                pcm = w.readframes(w.getnframes())
            if params is None:
                params = p
                dest.setparams(p)
                gap = lead_in_s
            elif (p.nchannels, p.sampwidth, p.framerate) != (params.nchannels, params.sampwidth, params.framerate):
                log.info("voice: part %d is in another WAV format; left out", n)
                continue
            else:
                gap = 0.4
            dest.writeframes(b"\0" * (int(gap * params.framerate) * params.nchannels * params.sampwidth) + pcm)
    return out.getvalue()


def write_cues(plan: Plan, out: Path, voice: Voice, extra: Iterable[Cue] = ()) -> list[Path]:
    """Write every cue of ``plan`` (and ``extra``: the check-in's) as ``out/<cue id>.wav``
    (recording or rendered), plus ``out/cues.json`` (id, text, source); returns the WAV files."""
    import json

    out.mkdir(parents=True, exist_ok=True)
    files, index = [], []
    for cue in [*plan_cues(plan), *extra]:
        src = voice.wav(cue)
        if src is None:
            raise FileNotFoundError("espeak-ng is not installed and there is no recording of " + cue.id)
        dest = out / cue.filename
        shutil.copyfile(src, dest)
        files.append(dest)
        index.append({"id": cue.id, "pattern": cue.scope, "phase": cue.phase, "lang": cue.lang,
                      "text": cue.text, "source": "recording" if voice.recording(cue) else "espeak-ng"})
    (out / "cues.json").write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    return files
