// The gallery's first screen (workbench/gallery/first_screen.py): the timeline served as plain HTML.
// This script adds what HTML alone does not do: more tiles when the end of the grid comes into view (JSON from
// data-feed), the photo overlay (preview, video, previous / next, download; arrow keys and Escape). Text from
// the library is only ever set with textContent or attributes, never as markup.
(function () {
  'use strict'
  const root = document.getElementById('wb-timeline')
  if (!root) return
  const grid = document.getElementById('wb-grid')
  const more = document.getElementById('wb-more')
  const status = document.getElementById('wb-status')
  const view = document.getElementById('wb-view')
  const img = document.getElementById('wb-view-img')
  const video = document.getElementById('wb-view-video')
  const nameEl = document.getElementById('wb-view-name')
  const whenEl = document.getElementById('wb-view-when')
  const posEl = document.getElementById('wb-view-pos')
  const download = document.getElementById('wb-view-download')
  const total = Number(root.dataset.total || 0)
  let next = root.dataset.next === '' ? null : Number(root.dataset.next)
  let loading = false
  let current = -1
  const items = []
  let lastMonth = null

  // The tiles the server rendered.
  grid.querySelectorAll('.wb-month, .wb-tile').forEach(function (el) {
    if (el.classList.contains('wb-month')) { lastMonth = el.textContent; return }
    const d = el.dataset
    items.push({ name: d.name, kind: d.kind, when: d.when, preview: d.preview, video: d.video,
                 download: d.download })
  })

  function tile (it, index) {
    if (it.month !== lastMonth) {
      const h = document.createElement('h2')
      h.className = 'wb-month'
      h.textContent = it.month
      grid.appendChild(h)
      lastMonth = it.month
    }
    const a = document.createElement('a')
    a.className = 'wb-tile'
    a.href = it.preview
    a.dataset.i = String(index)
    a.title = it.name
    const im = document.createElement('img')
    im.src = it.thumb
    im.alt = it.name
    im.decoding = 'async'
    im.loading = 'lazy'
    a.appendChild(im)
    if (it.kind === 'video') {
      const b = document.createElement('span')
      b.className = 'wb-badge'
      b.textContent = '▶ ' + (it.duration || '')
      a.appendChild(b)
    }
    grid.appendChild(a)
  }

  function ended (message) {
    // The session or link ended: nothing of the library stays on the page, only the reason.
    if (observer) observer.disconnect()
    close()
    grid.textContent = ''
    items.length = 0
    more.hidden = true
    status.textContent = message
  }

  function loadMore () {
    if (loading || next === null) return
    loading = true
    status.textContent = 'Loading…'
    const url = new URL(root.dataset.feed, location.href)
    url.searchParams.set('offset', String(next))
    fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) {
        return r.json().then(function (body) { return { ok: r.ok, status: r.status, body: body } })
      })
      .then(function (res) {
        loading = false
        if (res.status === 403) { ended((res.body && res.body.error) || 'Sign in again.'); return }
        if (!res.ok) { status.textContent = 'Could not load more: ' + ((res.body && res.body.error) || res.status); return }
        res.body.items.forEach(function (it) { items.push(it); tile(it, items.length - 1) })
        next = res.body.next
        more.hidden = next === null
        status.textContent = ''
      })
      .catch(function () { loading = false; status.textContent = 'Could not load more: the server did not answer.' })
  }

  more.addEventListener('click', loadMore)
  let observer = null
  if ('IntersectionObserver' in window) {
    observer = new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting })) loadMore()
    }, { rootMargin: '600px 0px' })
    observer.observe(more)
  }

  function show (i) {
    if (i < 0 || i >= items.length) return
    current = i
    const it = items[i]
    nameEl.textContent = it.name
    whenEl.textContent = it.when || ''
    posEl.textContent = (i + 1).toLocaleString() + ' of ' + total.toLocaleString()
    download.href = it.download
    if (it.kind === 'video' && it.video) {
      img.hidden = true
      img.removeAttribute('src')
      video.hidden = false
      video.poster = it.preview
      video.src = it.video
    } else {
      video.pause()
      video.removeAttribute('src')
      video.hidden = true
      img.hidden = false
      img.src = it.preview
      img.alt = it.name
    }
    document.getElementById('wb-prev').disabled = i === 0
    document.getElementById('wb-next').disabled = i >= items.length - 1 && next === null
    view.hidden = false
    if (i >= items.length - 3) loadMore()
  }

  function close () {
    if (view.hidden) return
    view.hidden = true
    video.pause()
    video.removeAttribute('src')
    img.removeAttribute('src')
    current = -1
  }

  grid.addEventListener('click', function (e) {
    const a = e.target.closest('.wb-tile')
    if (!a || e.ctrlKey || e.metaKey || e.shiftKey) return
    e.preventDefault()
    show(Number(a.dataset.i))
  })
  document.getElementById('wb-prev').addEventListener('click', function () { show(current - 1) })
  document.getElementById('wb-next').addEventListener('click', function () { show(current + 1) })
  document.getElementById('wb-close').addEventListener('click', close)
  img.addEventListener('error', function () {
    // A preview refused (signed out, link revoked, trashed meanwhile): say so instead of a broken picture.
    if (!view.hidden && img.getAttribute('src')) nameEl.textContent = 'This photo is no longer available.'
  })
  document.addEventListener('keydown', function (e) {
    if (view.hidden) return
    if (e.key === 'Escape') close()
    else if (e.key === 'ArrowLeft') show(current - 1)
    else if (e.key === 'ArrowRight') show(current + 1)
  })
})()
