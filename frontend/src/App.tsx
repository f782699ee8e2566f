import { Suspense, lazy, useMemo } from 'react'
import { ApiBanner, BrokerBanner, LinkIndicator } from './components/Banners'
import { CriticalAlertBox } from './components/CriticalAlertBox'
import { AlertsPage } from './pages/AlertsPage'
import { OverviewPage } from './pages/OverviewPage'
import { type Route, useRoute } from './router'
import { useDashboard } from './state/context'
import { criticalItems } from './state/fleet'

// Charts (uPlot) and Swagger UI load only when their page is opened, which
// keeps the initial JavaScript small.
const MachinePage = lazy(() => import('./pages/MachinePage'))
const DocsPage = lazy(() => import('./pages/DocsPage'))

const NAV: { page: Route['page']; href: string; label: string }[] = [
  { page: 'overview', href: '#/', label: 'Fleet' },
  { page: 'alerts', href: '#/alerts', label: 'Alerts' },
  { page: 'docs', href: '#/docs', label: 'API docs' },
]

export function App() {
  const route = useRoute()
  const { fleet, openAlerts, apiProblem, retryNow, link, config } = useDashboard()
  const critical = useMemo(() => criticalItems(fleet, openAlerts), [fleet, openAlerts])

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top">
        <h1>
          <a href="#/">OrchestraLink</a>
        </h1>
        <nav aria-label="Main">
          <ul>
            {NAV.map((item) => (
              <li key={item.page}>
                <a href={item.href} aria-current={route.page === item.page ? 'page' : undefined}>
                  {item.label}
                  {item.page === 'alerts' && openAlerts.length > 0 && (
                    <span className="nav-count" aria-label={`${openAlerts.length} open`}>
                      {openAlerts.length}
                    </span>
                  )}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="top-status">
          <LinkIndicator link={link} />
          <span className="target" title="Where this stack runs">
            {config.target}
          </span>
        </div>
      </header>
      <div className="notices">
        {apiProblem && <ApiBanner problem={apiProblem} onRetry={retryNow} />}
        <BrokerBanner link={link} />
        <CriticalAlertBox items={critical} />
      </div>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<p className="placeholder">Loading…</p>}>
          <Page route={route} />
        </Suspense>
      </main>
    </>
  )
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'overview':
      return <OverviewPage query={route.query} />
    case 'machine':
      return <MachinePage key={route.machineId} machineId={route.machineId} query={route.query} />
    case 'alerts':
      return <AlertsPage query={route.query} />
    case 'docs':
      return <DocsPage />
    case 'not-found':
      return (
        <section className="placeholder">
          <h2>Page not found</h2>
          <p>
            Nothing lives at <code>{route.path}</code>. <a href="#/">Back to the fleet</a>.
          </p>
        </section>
      )
  }
}
