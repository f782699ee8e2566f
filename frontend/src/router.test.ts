import { describe, expect, it } from 'vitest'
import { hrefWithQuery, machineHref, parseHash } from './router'

describe('parseHash', () => {
  it('reads the overview with its filters', () => {
    const route = parseHash('#/?type=Drilling&status=CRITICAL')
    expect(route.page).toBe('overview')
    expect(route.query.get('type')).toBe('Drilling')
  })

  it('treats an empty hash as the overview', () => {
    expect(parseHash('').page).toBe('overview')
  })

  it('decodes the machine id of a machine page', () => {
    const route = parseHash(machineHref('drill 7') + '?range=30d')
    expect(route).toMatchObject({ page: 'machine', machineId: 'drill 7' })
    expect(route.query.get('range')).toBe('30d')
  })

  it('knows the alerts and docs pages and reports anything else as not found', () => {
    expect(parseHash('#/alerts?severity=CRITICAL').page).toBe('alerts')
    expect(parseHash('#/docs').page).toBe('docs')
    expect(parseHash('#/nothing/here')).toMatchObject({ page: 'not-found', path: '/nothing/here' })
  })
})

describe('hrefWithQuery', () => {
  it('leaves out empty values', () => {
    expect(hrefWithQuery('/alerts', { state: 'all', severity: null, machine: '' })).toBe('#/alerts?state=all')
    expect(hrefWithQuery('/', {})).toBe('#/')
  })
})
