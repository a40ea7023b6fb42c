// The gallery's upload page (workbench/gallery/upload.py): files or folders, picked or dropped, sent with tus.
// Files the page can hash (crypto.subtle, up to data-hash-max bytes) are hashed ahead of sending and asked about
// in batches (POST <endpoint>/../known): a file the library already has costs a creation without bytes (nothing
// is sent); a new one up to data-one-request-max bytes is one request, its creation carrying its bytes (tus
// creation-with-upload); a bigger one is created, then PATCHed in chunks. Every upload resumes where it stopped (pause, a dropped connection,
// a reload: tus-js-client remembers unfinished uploads in localStorage).
(function () {
  'use strict'
  const root = document.getElementById('wb-upload')
  if (!root || !window.tus) return
  const endpoint = root.dataset.endpoint
  const knownUrl = new URL('../known', new URL(endpoint, location.href))
  knownUrl.search = new URL(endpoint, location.href).search     // ?share=... when uploading through a link
  const xsrf = root.dataset.xsrf
  const hashMax = Number(root.dataset.hashMax || 0)
  const chunkSize = Number(root.dataset.chunk || 67108864)
  const oneRequestMax = Number(root.dataset.oneRequestMax || 0)
  const PARALLEL = 2
  const list = document.getElementById('wb-list')
  const totalText = document.getElementById('wb-total-text')
  const totalBar = document.getElementById('wb-total-bar')
  const pauseAll = document.getElementById('wb-pause')
  const resumeAll = document.getElementById('wb-resume')
  const albumSelect = document.getElementById('wb-album')
  const items = []
  let paused = false

  function fmt(bytes) {
    if (bytes >= 1e9) return (bytes / 1e9).toFixed(2) + ' GB'
    if (bytes >= 1e6) return (bytes / 1e6).toFixed(1) + ' MB'
    return Math.max(1, Math.round(bytes / 1e3)) + ' kB'
  }

  function hex(buffer) {
    return Array.from(new Uint8Array(buffer)).map((b) => b.toString(16).padStart(2, '0')).join('')
  }

  function refreshTotal() {
    const total = items.reduce((s, it) => s + it.file.size, 0)
    const sent = items.reduce((s, it) => s + it.sent, 0)
    const done = items.filter((it) => it.state === 'done').length
    const failed = items.filter((it) => it.state === 'failed').length
    const active = items.some((it) => ['sending', 'hashing', 'waiting', 'checking'].includes(it.state))
    const waiting = active || items.some((it) => it.state === 'paused')
    totalBar.style.width = (total ? (100 * sent) / total : 0).toFixed(1) + '%'
    totalText.textContent = items.length === 0 ? 'Nothing to upload yet.'
      : `${done} of ${items.length} done` + (failed ? `, ${failed} not added` : '') +
        ` · ${fmt(sent)} of ${fmt(total)}` + (paused && waiting ? ' · paused' : '')
    pauseAll.disabled = paused || !active
    resumeAll.disabled = !paused
    root.dataset.state = waiting ? (paused ? 'paused' : 'sending') : 'idle'
  }

  function show(it, state, text) {
    it.state = state
    it.li.className = 'wb-file ' + state
    it.status.textContent = text
    it.bar.style.width = (it.file.size ? (100 * it.sent) / it.file.size : 100).toFixed(1) + '%'
    it.button.textContent = state === 'paused' ? 'Resume' : 'Pause'
    it.button.hidden = !(state === 'sending' || state === 'paused')
    refreshTotal()
  }

  function add(file, rel) {
    const li = document.createElement('li')
    li.className = 'wb-file'
    li.innerHTML = "<div class='row'><span class='name'></span><span class='size'></span>" +
      "<button type='button' class='small wb-file-pause'>Pause</button></div>" +
      "<div class='wb-bar'><div></div></div><div class='state'></div>"
    li.querySelector('.name').textContent = rel
    li.querySelector('.name').title = rel
    li.querySelector('.size').textContent = fmt(file.size)
    const it = {file, rel, li, sent: 0, state: 'waiting', upload: null, album: albumSelect ? albumSelect.value : '',
      bar: li.querySelector('.wb-bar > div'), status: li.querySelector('.state'),
      button: li.querySelector('.wb-file-pause')}
    it.button.addEventListener('click', () => (it.state === 'paused' ? resume(it) : pause(it)))
    list.appendChild(li)
    items.push(it)
    hashAhead(it)
    show(it, 'waiting', 'Waiting')
  }

  function pause(it) {
    if (it.upload && it.state === 'sending') {
      it.upload.abort()          // the server keeps what arrived; start() resumes from its offset
      show(it, 'paused', 'Paused')
    }
  }

  function resume(it) {
    if (it.upload && it.state === 'paused') {
      show(it, 'sending', 'Sending')
      it.upload.start()
    }
  }

  function reasonOf(err) {
    const res = err && err.originalResponse
    if (res) {
      const body = (res.getBody() || '').trim()
      if (body) return body
      return 'the server answered ' + res.getStatus()
    }
    return (err && err.message) || String(err)
  }

  async function outcome(it, url) {
    // All bytes are in; the server decides by content (sniffing, metadata) and says how it ended.
    for (let wait = 300; ; wait = Math.min(2000, wait * 1.5)) {
      const res = await fetch(url, {credentials: 'same-origin',
        headers: {'Tus-Resumable': '1.0.0', 'X-XSRFToken': xsrf}})
      const body = await res.text()
      if (res.status !== 200) return show(it, 'failed', body.trim() || 'the server answered ' + res.status)
      const s = JSON.parse(body)
      if (s.state === 'done') return show(it, 'done', s.result === 'known' ? 'Already in the library' : 'Added')
      if (s.state === 'refused') return show(it, 'failed', s.reason || 'Not added')
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }

  async function sha256(file) {
    if (!window.crypto || !crypto.subtle || file.size > hashMax) return null
    try {
      return hex(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()))
    } catch (e) {
      return null
    }
  }

  // Hashing runs ahead of sending, one file at a time; it.hashed resolves to the hash (or null).
  let hashing = Promise.resolve()
  function hashAhead(it) {
    it.hashed = hashing = hashing.then(() => sha256(it.file)).then((sha) => { it.sha = sha; return sha })
  }

  // One question for the hashed files not yet asked about (waiting first for the next few hashes, so a folder
  // is asked about in a few requests, not one per file): which does the library already have?
  let asking = null
  function askKnown() {
    if (!asking) {
      asking = (async () => {
        const ahead = items.filter((x) => x.known === undefined && x.hashed).slice(0, 16)
        await Promise.all(ahead.map((x) => x.hashed))
        const batch = items.filter((x) => x.sha && x.known === undefined).slice(0, 1000)
        if (!batch.length) return
        try {
          const res = await fetch(knownUrl.href, {method: 'POST', credentials: 'same-origin',
            headers: {'Tus-Resumable': '1.0.0', 'X-XSRFToken': xsrf, 'Content-Type': 'application/json'},
            body: JSON.stringify({sha256: batch.map((x) => x.sha)})})
          const known = res.status === 200 ? new Set((await res.json()).known) : new Set()
          for (const x of batch) x.known = known.has(x.sha)
        } catch (e) {
          for (const x of batch) x.known = false       // sending the file is always right, only slower
        }
      })().finally(() => { asking = null })
    }
    return asking
  }

  async function create(it, sha) {
    // Creation (tus POST) by the page itself, so a known file ends here without sending anything.
    const meta = {filename: it.rel, filetype: it.file.type || ''}
    if (sha) meta.sha256 = sha
    if (it.album) meta.album = it.album
    const encoded = Object.entries(meta).map(([k, v]) => k + ' ' + btoa(unescape(encodeURIComponent(v)))).join(',')
    const res = await fetch(endpoint, {method: 'POST', credentials: 'same-origin',
      headers: {'Tus-Resumable': '1.0.0', 'Upload-Length': String(it.file.size), 'Upload-Metadata': encoded,
        'X-XSRFToken': xsrf}})
    const body = (await res.text()).trim()        // read whole: an unread body is reported as an aborted request
    if (res.status !== 201) throw new Error(body || 'the server answered ' + res.status)
    return {location: new URL(res.headers.get('Location'), location.href).href,
      result: res.headers.get('Workbench-Upload-Result')}
  }

  function options(it) {
    const metadata = {filename: it.rel, filetype: it.file.type || ''}
    if (it.sha) metadata.sha256 = it.sha
    if (it.album) metadata.album = it.album
    return {
      endpoint,
      chunkSize,
      // A photo's creation carries its bytes: one request. A bigger file is created first, so a pause or a
      // dropped connection keeps what arrived (a creation cut off loses its bytes).
      uploadDataDuringCreation: it.file.size <= oneRequestMax,
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      headers: {'X-XSRFToken': xsrf},
      metadata,
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onProgress(sent) {
        it.sent = sent
        if (it.state === 'sending') show(it, 'sending', `Sending · ${fmt(sent)} of ${fmt(it.file.size)}`)
      },
      onSuccess({lastResponse}) {
        it.sent = it.file.size
        show(it, 'checking', 'Checking')
        next()
        const result = lastResponse && lastResponse.getHeader('Workbench-Upload-Result')
        if (result === 'known' || result === 'added') {
          show(it, 'done', result === 'known' ? 'Already in the library' : 'Added')
        } else {
          outcome(it, it.upload.url).catch((e) => show(it, 'failed', reasonOf(e)))
        }
      },
      onError(err) {
        show(it, 'failed', reasonOf(err))
        next()
      },
      onShouldRetry(err) {
        const status = err.originalResponse ? err.originalResponse.getStatus() : 0
        return status === 0 || status === 409 || status === 423 || status >= 500
      },
    }
  }

  async function run(it) {
    show(it, 'hashing', 'Preparing')
    try {
      const sha = await it.hashed
      while (sha && it.known === undefined) await askKnown()
      const upload = new tus.Upload(it.file, options(it))
      it.upload = upload
      const previous = await upload.findPreviousUploads()
      if (previous.length) {
        upload.resumeFromPreviousUpload(previous[0])
      } else if (it.known) {
        // The library has these bytes: a creation without them makes them the uploader's too.
        const created = await create(it, sha)
        if (created.result === 'known') {
          it.sent = it.file.size
          show(it, 'done', 'Already in the library')
          next()
          return
        }
        upload.options.uploadUrl = created.location     // gone meanwhile: send it after all
      }
      if (paused) {
        show(it, 'paused', 'Paused')
        return
      }
      show(it, 'sending', 'Sending')
      upload.start()
    } catch (e) {
      show(it, 'failed', reasonOf(e))
      next()
    }
  }

  function next() {
    let running = items.filter((x) => x.state === 'sending' || x.state === 'hashing').length
    for (const it of items) {
      if (running >= PARALLEL || paused) break
      if (it.state === 'waiting') {
        running++
        run(it)
      }
    }
    refreshTotal()
  }

  function addAll(entries) {
    for (const [file, rel] of entries) add(file, rel)
    next()
  }

  async function walk(entry, prefix, out) {
    if (entry.isFile) {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject))
      out.push([file, prefix + file.name])
    } else if (entry.isDirectory) {
      const reader = entry.createReader()
      let batch
      do {
        batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject))
        for (const e of batch) await walk(e, prefix + entry.name + '/', out)
      } while (batch.length)
    }
  }

  for (const id of ['wb-files', 'wb-folder']) {
    const input = document.getElementById(id)
    const take = () => {
      addAll(Array.from(input.files).map((f) => [f, f.webkitRelativePath || f.name]))
      input.value = ''
    }
    input.addEventListener('change', take)
    // Files picked while this script was still loading (a slow phone): their change event came before the
    // listener, so they are taken now instead of being silently dropped.
    if (input.files && input.files.length) take()
  }

  const drop = document.getElementById('wb-drop')
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over') })
  drop.addEventListener('dragleave', () => drop.classList.remove('over'))
  drop.addEventListener('drop', async (e) => {
    e.preventDefault()
    drop.classList.remove('over')
    const entries = Array.from(e.dataTransfer.items || []).map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry())
    if (entries.length && entries.every(Boolean)) {
      const out = []
      for (const entry of entries) await walk(entry, '', out)
      addAll(out)
    } else {
      addAll(Array.from(e.dataTransfer.files).map((f) => [f, f.name]))
    }
  })

  pauseAll.addEventListener('click', () => {
    paused = true
    for (const it of items) pause(it)
    refreshTotal()
  })
  resumeAll.addEventListener('click', () => {
    paused = false
    for (const it of items) resume(it)
    next()
  })
  refreshTotal()
  root.dataset.ready = 'true'   // every listener is in place (tests wait for this before they pick or drop)
})()
